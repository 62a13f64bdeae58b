using System.Diagnostics;

namespace Scarcity.Actors.Journaling;

/// <summary>An event waiting in a <see cref="JournalBacklog{T}"/>, with the journal sequence number it is written under.</summary>
/// <param name="SequenceNr">The journal sequence number (per persistence id, 1-based), assigned when it was appended.</param>
/// <param name="Event">The event.</param>
public readonly record struct PendingEvent<T>(long SequenceNr, T Event);

/// <summary>
/// The events of one persistence id that are decided but not yet in the journal, without Akka: an entity keeps governing
/// while the database is unreachable and its events wait here, in order, until a write succeeds. Each appended event gets
/// the next journal sequence number at once, so the journal order is the order of the decisions and a number is never
/// given twice. One batch is written at a time (<see cref="TakeBatch"/>); after a failed write the batch goes back
/// unchanged, and before it is written again <see cref="Confirm"/> is given the journal's highest sequence number, so a
/// write that reached the database although its answer was lost is not written a second time.
/// The backlog is bounded: appending beyond <see cref="Capacity"/> drops the oldest event that is not being written and
/// counts it in <see cref="Overflowed"/> (the journal then has a gap of those sequence numbers; the entity's next snapshot
/// covers what they changed). Not thread-safe: one actor owns it.
/// </summary>
public sealed class JournalBacklog<T>
{
    private readonly LinkedList<PendingEvent<T>> _pending = new();
    private int _inFlight; // the first _inFlight entries of _pending are being written

    /// <summary>Creates an empty backlog after <paramref name="lastSequenceNr"/>, the highest number already in the journal.</summary>
    /// <param name="lastSequenceNr">The journal's highest sequence number for the persistence id (0 for a new one).</param>
    /// <param name="capacity">At most this many events wait; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative <paramref name="lastSequenceNr"/> or a capacity below 1.</exception>
    public JournalBacklog(long lastSequenceNr, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lastSequenceNr);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        LastSequenceNr = lastSequenceNr;
        Capacity = capacity;
    }

    /// <summary>At most this many events wait.</summary>
    public int Capacity { get; }

    /// <summary>The sequence number of the newest event appended (or the journal's highest, before any).</summary>
    public long LastSequenceNr { get; private set; }

    /// <summary>Events waiting, including the batch being written.</summary>
    public int Count => _pending.Count;

    /// <summary>True while a batch taken by <see cref="TakeBatch"/> has not been settled.</summary>
    public bool Writing => _inFlight > 0;

    /// <summary>The size of the batch being written; 0 when none is.</summary>
    public int BatchSize => _inFlight;

    /// <summary>True after a failed write, until <see cref="Confirm"/> says what reached the journal.</summary>
    public bool NeedsConfirm { get; private set; }

    /// <summary>The sequence number of the oldest waiting event; null when none waits.</summary>
    public long? OldestSequenceNr => _pending.First?.Value.SequenceNr;

    /// <summary>Events dropped because the backlog was full, since it was created.</summary>
    public long Overflowed { get; private set; }

    /// <summary>Events written (confirmed by the journal or by <see cref="Confirm"/>), since it was created.</summary>
    public long Written { get; private set; }

    /// <summary>
    /// Appends <paramref name="event"/> under the next sequence number. When the backlog is full, the oldest event that is
    /// not being written is dropped to make room (when every waiting event is being written, the new one is dropped
    /// instead; its number stays used); either way the drop is counted in <see cref="Overflowed"/>.
    /// </summary>
    /// <returns>The sequence number of <paramref name="event"/>, and how many events this append dropped (0 or 1).</returns>
    public (long SequenceNr, int Dropped) Append(T @event)
    {
        var dropped = 0;
        if (_pending.Count >= Capacity)
        {
            // The batch being written may already be in the database: it is never dropped. The oldest after it is.
            var victim = _pending.First;
            for (var i = 0; i < _inFlight && victim is not null; i++) victim = victim.Next;
            if (victim is not null)
            {
                _pending.Remove(victim);
                dropped = 1;
            }
            else
            {
                // Every waiting event is in the batch being written (capacity below the batch size): the new one goes.
                Overflowed++;
                return (++LastSequenceNr, 1);
            }
        }
        Overflowed += dropped;
        _pending.AddLast(new PendingEvent<T>(++LastSequenceNr, @event));
        return (LastSequenceNr, dropped);
    }

    /// <summary>
    /// The oldest waiting events, at most <paramref name="max"/>, to write now in this order; empty while a batch is being
    /// written, while <see cref="NeedsConfirm"/>, or when none waits.
    /// </summary>
    public IReadOnlyList<PendingEvent<T>> TakeBatch(int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        if (Writing || NeedsConfirm || _pending.Count == 0) return [];
        var batch = new List<PendingEvent<T>>(Math.Min(max, _pending.Count));
        foreach (var e in _pending)
        {
            if (batch.Count == max) break;
            batch.Add(e);
        }
        _inFlight = batch.Count;
        return batch;
    }

    /// <summary>The batch being written is in the journal: it leaves the backlog.</summary>
    /// <exception cref="InvalidOperationException">No batch is being written.</exception>
    public void BatchWritten()
    {
        if (!Writing) throw new InvalidOperationException("no batch is being written");
        for (var i = 0; i < _inFlight; i++) _pending.RemoveFirst();
        Written += _inFlight;
        _inFlight = 0;
    }

    /// <summary>
    /// The write of the batch failed: it stays first, in order, and is not handed out again before <see cref="Confirm"/>
    /// (part of it, or all, may have reached the database although the write reported a failure).
    /// </summary>
    /// <exception cref="InvalidOperationException">No batch is being written.</exception>
    public void BatchFailed()
    {
        if (!Writing) throw new InvalidOperationException("no batch is being written");
        _inFlight = 0;
        NeedsConfirm = true;
    }

    /// <summary>
    /// The journal's highest sequence number is <paramref name="highestInJournal"/>: every waiting event at or below it is
    /// already written and leaves the backlog (so a retry never writes it twice). Returns how many left.
    /// </summary>
    /// <exception cref="InvalidOperationException">A batch is being written (its outcome is not known yet).</exception>
    public int Confirm(long highestInJournal)
    {
        if (Writing) throw new InvalidOperationException("a batch is being written; confirm after it failed");
        var removed = 0;
        while (_pending.First is { } first && first.Value.SequenceNr <= highestInJournal)
        {
            _pending.RemoveFirst();
            removed++;
        }
        Written += removed;
        NeedsConfirm = false;
        Debug.Assert(_pending.First is null || _pending.First.Value.SequenceNr > highestInJournal);
        return removed;
    }

    /// <summary>
    /// Takes every waiting event out (the owner stops and they cannot be written any more) and returns how many; they are
    /// counted in <see cref="Overflowed"/>, since they are lost as much as those dropped for room.
    /// </summary>
    public int Abandon()
    {
        var lost = _pending.Count;
        _pending.Clear();
        _inFlight = 0;
        Overflowed += lost;
        return lost;
    }
}
