namespace Scarcity.Actors.Simulation;

/// <summary>The governor's levels as an engine applies them, each in (0, 1]; 1 is unrestricted.</summary>
/// <param name="ReduceBatch">Fraction of the maximum batch (<c>reduce_batch</c>).</param>
/// <param name="Throttle">Fraction of arrivals admitted (<c>throttle</c>).</param>
/// <param name="ShedLoad">Fraction of low-priority arrivals kept (<c>shed_load</c>).</param>
public readonly record struct EngineLevels(double ReduceBatch, double Throttle, double ShedLoad)
{
    /// <summary>Every level at 1.</summary>
    public EngineLevels()
        : this(1, 1, 1)
    {
    }

    /// <summary>Every level at 1: no governor.</summary>
    public static EngineLevels Unrestricted => new();

    internal void EnsureValid()
    {
        Check(ReduceBatch, nameof(ReduceBatch));
        Check(Throttle, nameof(Throttle));
        Check(ShedLoad, nameof(ShedLoad));

        static void Check(double level, string name)
        {
            if (!(level > 0 && level <= 1)) throw new ArgumentOutOfRangeException(name, level, "a level must be in (0, 1]");
        }
    }
}

/// <summary>Cumulative scores of a run, the measures of control quality.</summary>
/// <param name="Ooms">Out-of-memory crashes.</param>
/// <param name="RequestsLost">Requests in the batch when the engine crashed.</param>
/// <param name="SecondsOverSlo">Simulated seconds with time to first token over the SLO, or the engine down.</param>
/// <param name="GoodRequests">Requests served while time to first token was within the SLO.</param>
/// <param name="RequestsRejected">Requests refused at admission (throttled or shed).</param>
public readonly record struct EngineScores(int Ooms, double RequestsLost, double SecondsOverSlo, double GoodRequests, double RequestsRejected);
