using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Actuation;

/// <summary>
/// Which profiles an actuator evaluates. Profiles that queued up while the actuator could not run (its shard moving to
/// another node after a failover) are delivered together when it resumes; replaying each would take one decision per
/// cooldown of the backlog within milliseconds, all on data seconds old. So while the actuator catches up after a
/// resume, every profile <see cref="Offer"/>ed replaces the one waiting and the actor evaluates only the one it
/// <see cref="Take"/>s at the end of a short catch-up window (the actuator's, one sampling interval): the newest. Afterwards every profile is
/// evaluated as it comes (<see cref="Accept"/>). In both modes a profile no newer than the last one evaluated
/// (reordered, or buffered twice) is dropped, unless it is older by more than the clock-step tolerance: then the host's
/// wall clock stepped back (NTP) and the profile is evaluated, as the profiler folds its readings in (field case
/// <c>clock-steps-back</c>), instead of every profile being dropped until the clock is back where it was.
/// </summary>
/// <param name="clockStepTolerance">
/// How much older than the last evaluated profile a profile may be and still be taken as reordered (dropped); older by
/// more, it is a clock step. Defaults to <see cref="DefaultClockStepTolerance"/>, the profiler's own default
/// (<c>ProfilerConfig.ClockStepTolerance</c>).
/// </param>
public sealed class LatestProfile(TimeSpan? clockStepTolerance = null)
{
    /// <summary>1 s: four samples at 4 Hz, larger than any reordering, smaller than the steps NTP makes.</summary>
    public static readonly TimeSpan DefaultClockStepTolerance = TimeSpan.FromSeconds(1);

    private readonly TimeSpan _clockStepTolerance = clockStepTolerance ?? DefaultClockStepTolerance;
    private HostProfile? _waiting;
    private DateTimeOffset _lastEvaluated = DateTimeOffset.MinValue;

    /// <summary>Profiles taken as a step back of the host's clock (evaluated, and the time line restarted from them).</summary>
    public long ClockSteps { get; private set; }

    // Older than the last evaluated by more than the tolerance: the clock stepped back; start the time line again.
    private bool SteppedBack(HostProfile profile)
    {
        if (_lastEvaluated == DateTimeOffset.MinValue || profile.At >= _lastEvaluated - _clockStepTolerance) return false;
        ClockSteps++;
        _lastEvaluated = DateTimeOffset.MinValue;
        return true;
    }

    /// <summary>Profiles never evaluated: replaced by a newer one while catching up, or no newer than the last evaluated.</summary>
    public long Skipped { get; private set; }

    /// <summary>While catching up: keeps <paramref name="profile"/> if it is the newest. True when the caller must schedule a <see cref="Take"/>.</summary>
    public bool Offer(HostProfile profile)
    {
        // After a step back the profile is the newest in real time, whatever the one waiting says.
        if ((SteppedBack(profile) || (_waiting is not null && profile.At < _waiting.At - _clockStepTolerance)) && _waiting is not null)
        {
            Skipped++;
            _waiting = profile;
            return false;
        }
        if (profile.At <= _lastEvaluated || (_waiting is not null && profile.At <= _waiting.At))
        {
            Skipped++;
            return false;
        }
        var schedule = _waiting is null;
        if (!schedule) Skipped++;
        _waiting = profile;
        return schedule;
    }

    /// <summary>The newest profile offered (to evaluate now), or null when none is waiting.</summary>
    public HostProfile? Take()
    {
        var profile = _waiting;
        _waiting = null;
        if (profile is not null) _lastEvaluated = profile.At;
        return profile;
    }

    /// <summary>When not catching up: whether to evaluate <paramref name="profile"/> now (it is newer than the last evaluated).</summary>
    public bool Accept(HostProfile profile)
    {
        SteppedBack(profile);
        if (profile.At <= _lastEvaluated)
        {
            Skipped++;
            return false;
        }
        _lastEvaluated = profile.At;
        return true;
    }

    /// <summary>Forgets the last evaluated time, e.g. when the subsystem moves to another host (another clock).</summary>
    public void Reset()
    {
        _waiting = null;
        _lastEvaluated = DateTimeOffset.MinValue;
    }
}
