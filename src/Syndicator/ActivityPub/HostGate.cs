using System.Collections.Concurrent;

namespace Syndicator.ActivityPub;

/// <summary>
/// One request at a time to each remote host from this node. The delivery worker keeps one lane per inbox, but the
/// followers of a server without a shared inbox each have their own inbox on the same host: without this, one
/// server would get as many requests at once as it has followers here. (The ActivityPub job runs on one node of a
/// cluster at a time, so this holds for the cluster.)
/// </summary>
public sealed class HostGate
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> gates = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Waits for the host's turn; disposing the result lets the next request to it go.</summary>
    public async Task<IDisposable> EnterAsync(Uri uri, CancellationToken cancellationToken)
    {
        var gate = gates.GetOrAdd(uri.Authority, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Turn(gate);
    }

    private sealed class Turn(SemaphoreSlim gate) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) gate.Release();
        }
    }
}
