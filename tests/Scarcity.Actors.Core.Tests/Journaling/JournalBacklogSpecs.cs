using Scarcity.Actors.Journaling;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Journaling;

public sealed class JournalBacklogSpecs
{
    private static JournalBacklog<string> Backlog(long last = 0, int capacity = 100) => new(last, capacity);

    [Fact]
    public void Events_are_numbered_after_the_journal_in_the_order_they_are_appended()
    {
        var backlog = Backlog(last: 41);

        var numbers = new[] { "a", "b", "c" }.Select(e => backlog.Append(e).SequenceNr).ToList();

        Assert.Equal([42L, 43L, 44L], numbers);
        Assert.Equal(["a", "b", "c"], backlog.TakeBatch(10).Select(e => e.Event));
    }

    [Fact]
    public void A_batch_is_handed_out_once_and_the_next_one_follows_it()
    {
        var backlog = Backlog();
        for (var i = 1; i <= 5; i++) backlog.Append("e" + i);

        var first = backlog.TakeBatch(3);
        var whileWriting = backlog.TakeBatch(3);
        backlog.BatchWritten();
        var second = backlog.TakeBatch(3);

        Assert.Equal([1L, 2L, 3L], first.Select(e => e.SequenceNr));
        Assert.Empty(whileWriting);
        Assert.Equal([4L, 5L], second.Select(e => e.SequenceNr));
        Assert.Equal(3, backlog.Written);
    }

    [Fact]
    public void A_failed_batch_is_not_written_again_before_the_journal_says_what_it_holds()
    {
        var backlog = Backlog();
        for (var i = 1; i <= 4; i++) backlog.Append("e" + i);
        backlog.TakeBatch(4);

        backlog.BatchFailed();

        Assert.True(backlog.NeedsConfirm);
        Assert.Empty(backlog.TakeBatch(4));
        Assert.Equal(4, backlog.Count);
    }

    [Fact]
    public void A_write_that_reached_the_journal_despite_its_failure_is_not_written_twice()
    {
        var backlog = Backlog(last: 10);
        for (var i = 1; i <= 4; i++) backlog.Append("e" + i); // 11..14
        backlog.TakeBatch(4);
        backlog.BatchFailed();

        var already = backlog.Confirm(highestInJournal: 12); // 11 and 12 were stored, the answer was lost
        var retry = backlog.TakeBatch(10);

        Assert.Equal(2, already);
        Assert.Equal([13L, 14L], retry.Select(e => e.SequenceNr));
        Assert.Equal(2, backlog.Written);
    }

    [Fact]
    public void A_confirm_below_the_waiting_events_writes_them_all_again_in_order()
    {
        var backlog = Backlog(last: 10);
        backlog.Append("a");
        backlog.Append("b");
        backlog.TakeBatch(10);
        backlog.BatchFailed();
        backlog.Append("c"); // decided while the database was down

        backlog.Confirm(highestInJournal: 10);

        Assert.Equal([(11L, "a"), (12L, "b"), (13L, "c")], backlog.TakeBatch(10).Select(e => (e.SequenceNr, e.Event)));
    }

    [Fact]
    public void Beyond_its_capacity_the_oldest_event_is_dropped_and_counted()
    {
        var backlog = Backlog(capacity: 3);

        var dropped = Enumerable.Range(1, 5).Sum(i => backlog.Append("e" + i).Dropped);

        Assert.Equal(2, dropped);
        Assert.Equal(2, backlog.Overflowed);
        Assert.Equal(3, backlog.Count);
        Assert.Equal([3L, 4L, 5L], backlog.TakeBatch(10).Select(e => e.SequenceNr));
        Assert.Equal(5, backlog.LastSequenceNr); // numbers are never reused: the gap 1..2 marks what was dropped
    }

    [Fact]
    public void The_batch_being_written_is_never_dropped_for_room()
    {
        var backlog = Backlog(capacity: 3);
        backlog.Append("e1");
        backlog.Append("e2");
        backlog.TakeBatch(2); // e1, e2 may already be in the database
        backlog.Append("e3");

        backlog.Append("e4"); // full: e3 goes, not e1 or e2
        backlog.BatchWritten();

        Assert.Equal(1, backlog.Overflowed);
        Assert.Equal([4L], backlog.TakeBatch(10).Select(e => e.SequenceNr));
    }

    [Fact]
    public void When_every_waiting_event_is_being_written_a_new_one_is_dropped_and_counted()
    {
        var backlog = Backlog(capacity: 2);
        backlog.Append("e1");
        backlog.Append("e2");
        backlog.TakeBatch(2);

        var (sequenceNr, dropped) = backlog.Append("e3");
        backlog.BatchWritten();

        Assert.Equal((3L, 1), (sequenceNr, dropped));
        Assert.Equal(1, backlog.Overflowed);
        Assert.Equal(0, backlog.Count);
        Assert.Equal(4, backlog.Append("e4").SequenceNr);
    }

    [Fact]
    public void What_is_left_when_the_owner_stops_is_counted_as_lost()
    {
        var backlog = Backlog(capacity: 10);
        for (var i = 1; i <= 4; i++) backlog.Append("e" + i);
        backlog.TakeBatch(2);

        var lost = backlog.Abandon();

        Assert.Equal(4, lost);
        Assert.Equal(4, backlog.Overflowed);
        Assert.Equal(0, backlog.Count);
    }

    [Fact]
    public void Settling_a_batch_that_is_not_being_written_is_a_programming_error()
    {
        var backlog = Backlog();

        Assert.Throws<InvalidOperationException>(backlog.BatchWritten);
        Assert.Throws<InvalidOperationException>(backlog.BatchFailed);
        Assert.Throws<ArgumentOutOfRangeException>(() => new JournalBacklog<string>(0, 0));
    }
}
