using System.Collections.Immutable;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Operations;

/// <summary>
/// Reads decisions straight from the Akka.Persistence.Sql journal table (the durable decision log), with the configured
/// provider. The table is the plugin's default: <c>journal</c> with <c>ordering</c>, <c>deleted</c>,
/// <c>persistence_id</c>, <c>sequence_number</c>, <c>message</c> (payload), <c>identifier</c> (serializer id) and
/// <c>manifest</c>. Payloads are deserialized through Akka's serialization, so the reader sees exactly what the actuators
/// recover from.
/// </summary>
public sealed class DecisionJournal(PersistenceConfig config, Akka.Serialization.Serialization serialization)
{
    /// <summary>The journal table of Akka.Persistence.Sql's default table mapping.</summary>
    public const string Table = "journal";

    private const string DecisionManifest = "decision.v1";

    /// <summary>
    /// The newest decisions matching <paramref name="query"/>, oldest first. Rows are read newest first and reading stops at
    /// the limit or at the first decision older than <see cref="GetDecisions.Since"/>.
    /// </summary>
    public async Task<ImmutableArray<JournaledDecision>> ReadAsync(GetDecisions query, CancellationToken cancellationToken = default)
    {
        try
        {
            return await ReadRowsAsync(query, cancellationToken);
        }
        catch (DbException e) when (IsMissingTable(e))
        {
            return []; // the journal is created on the first persisted event: no table yet means no decision yet
        }
    }

    private static bool IsMissingTable(DbException e) =>
        e is SqliteException && e.Message.Contains("no such table", StringComparison.OrdinalIgnoreCase) ||
        e is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable };

    private async Task<ImmutableArray<JournaledDecision>> ReadRowsAsync(GetDecisions query, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var filter = query.Subsystem is null ? "persistence_id LIKE 'actuator-%'" : "persistence_id = @pid";
        command.CommandText = $"""
            SELECT persistence_id, sequence_number, message, identifier, manifest FROM {Table}
            WHERE NOT deleted AND manifest = @manifest AND {filter}
            ORDER BY ordering DESC
            """;
        AddParameter(command, "@manifest", DecisionManifest);
        if (query.Subsystem is not null) AddParameter(command, "@pid", ActuatorActor.PersistenceIdFor(query.Subsystem));

        var newestFirst = new List<JournaledDecision>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (newestFirst.Count < query.Limit && await reader.ReadAsync(cancellationToken))
        {
            var payload = (byte[])reader.GetValue(2);
            var serializerId = reader.IsDBNull(3) ? ScarcitySerializer.SerializerId : Convert.ToInt32(reader.GetValue(3));
            var decision = (Decision)serialization.Deserialize(payload, serializerId, reader.GetString(4));
            if (query.Since is { } since && decision.At < since) break;
            newestFirst.Add(new JournaledDecision(reader.GetString(0), reader.GetInt64(1), decision));
        }
        newestFirst.Reverse();
        return [.. newestFirst];
    }

    private DbConnection Open() =>
        string.Equals(config.Provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
            ? new NpgsqlConnection(config.ConnectionString)
            : new SqliteConnection(config.ConnectionString);

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
