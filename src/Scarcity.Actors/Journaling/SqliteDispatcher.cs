namespace Scarcity.Actors.Journaling;

/// <summary>
/// The thread the SQLite journal and snapshot store run on: one dedicated thread (an Akka <c>ForkJoinDispatcher</c>),
/// set as the <c>plugin-dispatcher</c> and <c>materializer-dispatcher</c> of both Akka.Persistence.Sql plugins.
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite has no asynchronous I/O: every "async" insert runs synchronously on the thread that calls it,
/// fsync included, and Akka.Persistence.Sql calls it from the plugins' dispatchers, by default the .NET thread pool the
/// actors run on. Two writes at once (the journal's three writers, a profiler snapshot) then contend for the file's write
/// lock, and Microsoft.Data.Sqlite answers <c>SQLITE_BUSY</c> by putting the pool thread to sleep for 150 ms
/// (<c>Thread.Sleep</c> in <c>SqliteDataReader.NextResult</c>). On two cores that took a thread from the
/// profiler-policy-actuator path and made the sample-to-Throttle tail (see docs/performance.md). SQLite writes one
/// transaction at a time anyway, so one thread loses no throughput: writes queue in order instead of colliding, and the
/// thread pool keeps its threads for the actors. PostgreSQL (Npgsql is truly asynchronous, and a cluster writes from
/// every node) keeps the defaults.
/// </remarks>
public static class SqliteDispatcher
{
    /// <summary>The dispatcher's configuration path.</summary>
    public const string Id = "scarcity.sqlite-dispatcher";

    /// <summary>The dispatcher and the two plugins' settings that use it.</summary>
    public const string Hocon = $$"""
        {{Id}} {
          type = ForkJoinDispatcher
          throughput = 100
          dedicated-thread-pool {
            thread-count = 1
            threadtype = background
          }
        }
        akka.persistence.journal.sql {
          plugin-dispatcher = {{Id}}
          materializer-dispatcher = {{Id}}
        }
        akka.persistence.snapshot-store.sql {
          plugin-dispatcher = {{Id}}
          materializer-dispatcher = {{Id}}
        }
        """;
}
