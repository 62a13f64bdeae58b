using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;

using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Hosting;

public sealed class DRGConfigSpecs
{
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void An_empty_configuration_gives_working_defaults()
    {
        var config = Load();

        Assert.Equal(TimeSpan.FromMilliseconds(250), config.Sensor.Interval);
        Assert.Equal("Data Source=./data/scarcity.db", config.Persistence.ConnectionString);
        Assert.Equal(PolicyRule.Defaults, config.Policy.RulesFor("anything"));
        Assert.Equal(TimeSpan.FromSeconds(5), config.Profiler.ForecastHorizon);
    }

    [Fact]
    public void Cluster_bootstrap_is_off_by_default_and_binds_when_enabled()
    {
        Assert.False(Load().Cluster.Bootstrap.Enabled);

        var bootstrap = Load(
            ("Scarcity:Cluster:Bootstrap:Enabled", "true"),
            ("Scarcity:Cluster:Bootstrap:ServiceName", "governors"),
            ("Scarcity:Cluster:Bootstrap:RequiredContactPoints", "5")).Cluster.Bootstrap;

        Assert.True(bootstrap.Enabled);
        Assert.Equal("governors", bootstrap.ServiceName);
        Assert.Equal("management", bootstrap.PortName);
        Assert.Equal(8558, bootstrap.ManagementPort);
        Assert.Equal(5, bootstrap.RequiredContactPoints);
    }

    [Fact]
    public void Roles_from_the_environment_replace_the_default_roles()
    {
        // The Kubernetes manifests give a pod its role as Scarcity__Cluster__Roles__0 alone.
        Assert.Equal(["sensor"], Load(("Scarcity:Cluster:Roles:0", "sensor")).Cluster.Roles);
        Assert.Equal(["governor"], Load(("Scarcity:Cluster:Roles:0", "governor")).Cluster.Roles);
    }

    [Fact]
    public void Cluster_bootstrap_rejects_seed_nodes_and_a_bad_contact_point_count_naming_the_keys()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Cluster:Bootstrap:Enabled", "true"),
            ("Scarcity:Cluster:Bootstrap:RequiredContactPoints", "0"),
            ("Scarcity:Cluster:SeedNodes:0", "akka.tcp://scarcity@10.0.0.1:4053")));

        Assert.Contains("Scarcity:Cluster:Bootstrap:RequiredContactPoints", error.Message);
        Assert.Contains("Scarcity:Cluster:SeedNodes must be empty", error.Message);
    }

    [Fact]
    public void Rules_bind_from_configuration_with_signal_release_and_cooldown()
    {
        var config = Load(
            ("Scarcity:Policy:Policies:engine:0:Metric", "latency_ms"),
            ("Scarcity:Policy:Policies:engine:0:Threshold", "300"),
            ("Scarcity:Policy:Policies:engine:0:Action", "shed_load"),
            ("Scarcity:Policy:Policies:engine:0:Factor", "0.5"),
            ("Scarcity:Policy:Policies:engine:0:Signal", "Forecast"),
            ("Scarcity:Policy:Policies:engine:0:Release", "250"),
            ("Scarcity:Policy:Policies:engine:0:Cooldown", "00:00:02"));

        var rule = Assert.Single(config.Policy.RulesFor("engine"));
        Assert.Equal(new PolicyRule("latency_ms", 300, "shed_load", 0.5) { Signal = SignalKind.Forecast, Release = 250, Cooldown = TimeSpan.FromSeconds(2) }, rule);
    }

    [Fact]
    public void A_misspelt_key_fails_start_up_naming_it()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(("Scarcity:Sensor:Intervall", "00:00:00.500")));
        Assert.Contains("Intervall", error.Message);
    }

    [Fact]
    public void A_view_interval_out_of_range_fails_start_up_naming_the_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(("Scarcity:ViewInterval", "00:00:00")));
        Assert.Contains("Scarcity:ViewInterval must be between 00:00:00.010 and 00:01:00, was 00:00:00", error.Errors);
        Assert.Equal(TimeSpan.FromMilliseconds(250), Load(("Scarcity:ViewInterval", "00:00:00.250")).ViewInterval);
    }

    [Fact]
    public void Write_buffer_and_retry_settings_out_of_range_fail_start_up_naming_each_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Persistence:WriteBuffer", "0"),
            ("Scarcity:Persistence:WriteRetryMin", "00:00:02"),
            ("Scarcity:Persistence:WriteRetryMax", "00:00:01")));
        Assert.Contains("Scarcity:Persistence:WriteBuffer must be at least 1, was 0", error.Errors);
        Assert.Contains("Scarcity:Persistence:WriteRetryMax must be at least WriteRetryMin (00:00:02), was 00:00:01", error.Errors);
        Assert.Equal(10_000, Load().Persistence.WriteBuffer);
    }

    [Fact]
    public void A_non_positive_interval_fails_start_up_naming_the_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(("Scarcity:Sensor:Interval", "00:00:00")));
        Assert.Contains("Scarcity:Sensor:Interval must be positive, was 00:00:00", error.Errors);
    }

    [Fact]
    public void An_unknown_metric_an_unknown_action_and_a_threshold_out_of_range_are_all_reported_at_once()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Policy:Policies:*:0:Metric", "vram_usage"),
            ("Scarcity:Policy:Policies:*:0:Threshold", "0.8"),
            ("Scarcity:Policy:Policies:*:0:Action", "reduce_batch"),
            ("Scarcity:Policy:Policies:*:0:Factor", "0.5"),
            ("Scarcity:Policy:Policies:*:1:Metric", "vram_util"),
            ("Scarcity:Policy:Policies:*:1:Threshold", "85"),
            ("Scarcity:Policy:Policies:*:1:Action", "halve_batch"),
            ("Scarcity:Policy:Policies:*:1:Factor", "0.5")));

        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Policy:Policies:*:0:Metric 'vram_usage' is not a known metric"));
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Threshold 85 is out of range"));
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Action 'halve_batch' is not a known action"));
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(("Scarcity:Sensor:Interval", "fast")));
        Assert.Contains("Scarcity:Sensor:Interval", error.Message);
    }

    [Fact]
    public void Unknown_keys_values_of_the_wrong_type_and_invalid_values_are_all_reported_at_once()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Sensor:Intervall", "00:00:00.500"),
            ("Scarcity:Profiler:EmaAlpha", "lots"),
            ("Scarcity:Policy:Policies:*:0:Metrc", "vram_util"),
            ("Scarcity:Policy:Policies:*:0:Threshold", "0.85"),
            ("Scarcity:Policy:Policies:*:0:Action", "reduce_batch"),
            ("Scarcity:Policy:Policies:*:0:Factor", "0.5"),
            ("Scarcity:Policy:Policies:*:1:Metric", "vram_util"),
            ("Scarcity:Policy:Policies:*:1:Threshold", "85"),
            ("Scarcity:Policy:Policies:*:1:Action", "reduce_batch"),
            ("Scarcity:Policy:Policies:*:1:Factor", "0.5"),
            ("Scarcity:Policy:Policies:*:1:Sginal", "Forecast"),
            ("Scarcity:ViewInterval", "00:00:00")));

        Assert.Equal(((string[])
        [
            "Scarcity:Sensor:Intervall is not a known key; did you mean 'Interval'?",
            "Scarcity:Profiler:EmaAlpha 'lots' is not a number",
            "Scarcity:Policy:Policies:*:0:Metrc is not a known key; did you mean 'Metric'?",
            "Scarcity:Policy:Policies:*:0:Metric is missing",
            "Scarcity:Policy:Policies:*:1:Sginal is not a known key; did you mean 'Signal'?",
            "Scarcity:ViewInterval must be between 00:00:00.010 and 00:01:00, was 00:00:00",
        ]).Order(StringComparer.Ordinal), error.Errors.Where(e => !e.StartsWith("Scarcity:Policy:Policies:*:1:Threshold", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal));
        // The second rule keeps its index although the first one misses its metric.
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Threshold 85 is out of range", StringComparison.Ordinal));
    }

    [Fact]
    public void A_rule_missing_its_threshold_is_reported_once_with_the_other_problems_of_the_rule()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Policy:Policies:engine:0:Metric", "vram_util"),
            ("Scarcity:Policy:Policies:engine:0:Release", "0.8"),
            ("Scarcity:Policy:Policies:engine:0:Action", "nap"),
            ("Scarcity:Policy:Policies:engine:0:Factor", "0.5")));

        Assert.Equal(2, error.Errors.Count);
        Assert.Contains("Scarcity:Policy:Policies:engine:0:Threshold is missing", error.Errors);
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Policy:Policies:engine:0:Action 'nap' is not a known action", StringComparison.Ordinal));
    }

    [Fact]
    public void A_section_where_a_value_belongs_and_a_value_where_a_list_belongs_are_named()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Sensor:Interval:Milliseconds", "250"),
            ("Scarcity:Cluster:Roles", "governor"),
            ("Scarcity:Policy:Policies:*:0:Direction", "Sideways"),
            ("Scarcity:Policy:Policies:*:0:Metric", "cpu_util"),
            ("Scarcity:Policy:Policies:*:0:Threshold", "0.9"),
            ("Scarcity:Policy:Policies:*:0:Action", "throttle"),
            ("Scarcity:Policy:Policies:*:0:Factor", "0.7")));

        Assert.Equal(((string[])
        [
            "Scarcity:Sensor:Interval takes a value (a duration, hh:mm:ss[.fff] such as 00:00:05), not a section",
            "Scarcity:Policy:Policies:*:0:Direction 'Sideways' is not one of Above, Below",
            "Scarcity:Cluster:Roles takes a list (a JSON array), not the value 'governor'",
        ]).Order(StringComparer.Ordinal), error.Errors.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_configurations_of_the_repository_load()
    {
        var root = RepoPaths.Root;
        var files = Directory.GetFiles(Path.Combine(root, "cluster-config"), "*.json", SearchOption.AllDirectories)
            .Append(Path.Combine(root, "src", "Scarcity.Actors.Host", "appsettings.json")).ToList();

        Assert.NotEmpty(files);
        Assert.All(files, f => DRGConfig.Load(new ConfigurationBuilder().AddJsonFile(f).Build()));
    }

    [Fact]
    public void Environment_style_keys_override_the_defaults()
    {
        Environment.SetEnvironmentVariable("Scarcity__Persistence__Provider", "PostgreSQL");
        try
        {
            var config = DRGConfig.Load(new ConfigurationBuilder().AddEnvironmentVariables().Build());
            Assert.Equal("PostgreSQL", config.Persistence.Provider);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Scarcity__Persistence__Provider", null);
        }
    }

    [Fact]
    public void Configured_roles_replace_the_default_roles()
    {
        Assert.Equal(["sensor"], Load(("Scarcity:Cluster:Roles:0", "sensor")).Cluster.Roles);
        Assert.Equal(["governor"], Load(("Scarcity:Cluster:Roles:0", "governor")).Cluster.Roles);
        Assert.Equal(["governor", "sensor"], Load().Cluster.Roles);
    }

    [Fact]
    public void The_shipped_sensor_only_configuration_makes_a_node_without_the_governor_role()
    {
        var file = Path.Combine(RepoPaths.Root, "cluster-config", "three-node", "sensor-only.json");
        var config = DRGConfig.Load(new ConfigurationBuilder().AddJsonFile(file).Build());

        Assert.Equal(["sensor"], config.Cluster.Roles);
        Assert.False(config.Cluster.IsGovernor);
    }

    [Fact]
    public void The_metrics_endpoint_defaults_to_port_9464_on_loopback_and_port_0_turns_it_off()
    {
        var defaults = Load();
        Assert.Equal(9464, defaults.Metrics.Port);
        Assert.Equal("127.0.0.1", defaults.Metrics.Address);
        Assert.True(defaults.Metrics.Enabled);
        Assert.False(Load(("Scarcity:Metrics:Port", "0")).Metrics.Enabled);
        Assert.Equal("*", Load(("Scarcity:Metrics:Address", "*")).Metrics.Address);
    }

    [Fact]
    public void A_metrics_port_out_of_range_a_bad_address_and_a_zero_readiness_timeout_are_reported_at_once()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Metrics:Port", "70000"), ("Scarcity:Metrics:Address", "not an address"),
            ("Scarcity:Metrics:ReadinessTimeout", "00:00:00")));
        Assert.Contains("Scarcity:Metrics:Port must be in 0..65535 (0: off), was 70000", error.Errors);
        Assert.Contains("Scarcity:Metrics:Address must be an IP address, * or localhost, was 'not an address'", error.Errors);
        Assert.Contains("Scarcity:Metrics:ReadinessTimeout must be between 0 and 00:01:00, was 00:00:00", error.Errors);
    }
}
