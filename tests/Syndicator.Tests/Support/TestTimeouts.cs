namespace Syndicator.Tests.Support;

/// <summary>
/// How long an async test may run before xunit fails it by name. Every async test carries a Timeout (this one unless
/// its class names a tighter or a longer one): a test that waits on something outside itself (a server, a child
/// process, a database, a socket, a browser) and never hears back then fails on its own, instead of holding its slot
/// until .ci/run's hang dump (no test finishing for 10 minutes) ends the whole run. xunit takes a Timeout on async
/// tests only; the synchronous ones wait on nothing outside the process.
/// </summary>
public static class TestTimeouts
{
    /// <summary>Three minutes: ten times what the slowest of these takes on a quiet machine, for a loaded CI one.</summary>
    public const int Default = 180_000;
}
