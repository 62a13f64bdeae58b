using Akka.Actor;
using Akka.Persistence;
using Scarcity.Actors.Journaling;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Hosting;

/// <summary>
/// A node on SQLite writes its journal and snapshots on one dedicated thread (<see cref="SqliteDispatcher"/>), not on
/// the thread pool its actors run on: Microsoft.Data.Sqlite's writes block their thread (and sleep 150 ms on a busy
/// file), which made the sample-to-Throttle tail on two cores (docs/performance.md).
/// </summary>
public sealed class SqliteDispatcherSpecs
{
    [Fact]
    public async Task Journal_and_snapshot_store_of_a_SQLite_node_run_on_one_dedicated_thread()
    {
        await using var node = await GovernorHost.StartAsync(GovernorHost.SpecConfig());
        try
        {
            var persistence = Persistence.Instance.Apply(node.System);
            var journal = (ActorRefWithCell)persistence.JournalFor(null);
            var snapshots = (ActorRefWithCell)persistence.SnapshotStoreFor(null);

            Assert.Equal(SqliteDispatcher.Id, journal.Underlying.Props.Dispatcher);
            Assert.Equal(SqliteDispatcher.Id, snapshots.Underlying.Props.Dispatcher);
            var config = node.System.Settings.Config;
            Assert.Equal(SqliteDispatcher.Id, config.GetString("akka.persistence.journal.sql.materializer-dispatcher"));
            Assert.Equal(SqliteDispatcher.Id, config.GetString("akka.persistence.snapshot-store.sql.materializer-dispatcher"));
            Assert.Equal(1, config.GetInt($"{SqliteDispatcher.Id}.dedicated-thread-pool.thread-count"));
        }
        finally
        {
            node.DeleteDatabase();
        }
    }
}
