using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// Field case <c>psi-read-fails</c>: <c>/proc/pressure/{cpu,memory,io}</c> exist and open, but every read fails (a kernel
/// with CONFIG_PSI_DEFAULT_DISABLED booted without psi=1 answers EOPNOTSUPP; here each file is a symlink to
/// /proc/self/mem, whose read at offset 0 fails with EIO). PSI is said unavailable once, the psi_* series are absent
/// (not stale forever), and the files are not reopened every few seconds. Generally: a capability the kernel lacks is
/// told apart from a failure, and only failures are retried, with a backoff.
/// </summary>
public sealed class PsiReadFailsSpecs : LinuxSourceSpecBase
{
    private static readonly string[] Psi = [MetricNames.PsiCpu, MetricNames.PsiMem, MetricNames.PsiIo];

    [Fact]
    public void Psi_read_fails_psi_is_said_unavailable_once_and_its_series_are_absent_not_stale()
    {
        foreach (var resource in new[] { "cpu", "memory", "io" }) _tree.PressureUnreadable(resource);
        using var source = Source();

        for (var t = 0.0; t <= 120; t += 0.25)
        {
            var sample = Sample(source, t);
            foreach (var metric in Psi)
            {
                Assert.Null(sample.Find(metric));
                Assert.DoesNotContain(metric, sample.Stale.ToArray());
            }
            Assert.NotNull(sample.Find(MetricNames.MemUtil));
        }

        Assert.False(source.PsiAvailable);
        var notice = Assert.Single(_notices);
        Assert.StartsWith("PSI is unavailable:", notice, StringComparison.Ordinal);
        Assert.Contains("psi_cpu, psi_mem, psi_io are not reported", notice, StringComparison.Ordinal);
    }

    [Fact]
    public void Psi_read_fails_the_files_are_retried_with_a_backoff_not_every_few_seconds()
    {
        foreach (var resource in new[] { "cpu", "memory", "io" }) _tree.PressureUnreadable(resource);
        using var source = Source();
        var firstSeen = double.NaN;

        for (var t = 0.0; t <= 120; t += 0.25)
        {
            // At 21 s the kernel starts answering (psi=1 in effect after a live patch, say).
            if (t == 21)
                foreach (var resource in new[] { "cpu", "memory", "io" })
                {
                    File.Delete(Path.Combine(_tree.Proc, "pressure", resource));
                    _tree.Pressure(resource, 25);
                }
            if (Sample(source, t).Find(MetricNames.PsiCpu) is not null && double.IsNaN(firstSeen)) firstSeen = t;
        }

        // Attempts at 0 s, 20 s, 60 s (the wait doubles: 20 s, 40 s), so not at 30 s as a retry every 10 s would.
        Assert.Equal(60, firstSeen);
        Assert.Equal(0.25, _buffer.Find(MetricNames.PsiCpu));
        Assert.True(source.PsiAvailable);
        Assert.Contains(_notices, n => n.EndsWith("reads now: psi_cpu is reported", StringComparison.Ordinal));
    }

    [Fact]
    public void Psi_read_fails_only_one_of_the_three_files_the_other_two_still_report()
    {
        _tree.PressureUnreadable("io");
        using var source = Source();

        Sample(source, 0);
        var sample = Sample(source, 0.25);

        Assert.True(source.PsiAvailable);
        Assert.Equal(0.0343, sample.Find(MetricNames.PsiCpu)!.Value, 9);
        Assert.Equal(0.0, sample.Find(MetricNames.PsiMem));
        Assert.Null(sample.Find(MetricNames.PsiIo));
        Assert.Equal(0, sample.StaleCount);
        var notice = Assert.Single(_notices);
        Assert.Contains("psi_io", notice, StringComparison.Ordinal);
        Assert.DoesNotContain("psi_cpu", notice, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(95, true)] // EOPNOTSUPP: PSI compiled in but disabled
    [InlineData(38, true)] // ENOSYS
    [InlineData(5, false)] // EIO: a failure, retried
    [InlineData(19, false)] // ENODEV: a removed cgroup, retried
    [InlineData(2, false)] // ENOENT
    public void Psi_read_fails_unsupported_is_told_apart_from_failed(int errno, bool unsupported) =>
        Assert.Equal(unsupported, ProcFile.IsUnsupportedErrno(errno));

    [Fact]
    public void Psi_read_fails_an_absent_file_is_retried_on_a_doubling_backoff_measured_on_the_sample_times()
    {
        var path = Path.Combine(_tree.Root, "appears-later");
        using var file = new ProcFile(path);
        var attempts = new List<int>();

        for (var second = 0; second <= 400; second += 10)
        {
            var wasOpen = file.IsOpen;
            if (second == 80) File.WriteAllText(path, "1\n");
            if (file.Retry(T0.AddSeconds(second), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(80)) && !wasOpen) attempts.Add(second);
        }

        // Tried at 0, 10, 30 and 70 s (absent: waits of 10, 20, 40, then 80 s, the cap); it appears at 80 s and is
        // opened at 150 s, not at the next refresh.
        Assert.Equal([150], attempts);
        Assert.True(file.TryRead(out _, null));
    }

    [Fact]
    public void Psi_read_fails_a_failing_read_reports_the_errno_of_the_failed_call()
    {
        var link = Path.Combine(_tree.Root, "mem");
        File.CreateSymbolicLink(link, "/proc/self/mem");
        using var file = new ProcFile(link);

        Assert.True(file.IsOpen);
        Assert.False(file.TryRead(out _, null));
        Assert.False(file.IsUnsupported); // EIO is a failure: retried
        Assert.False(file.IsOpen);
        Assert.True(file.Retry(T0, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5)));
    }
}
