using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Syndicator.Shared;

/// <summary>
/// The two moments of a graceful stop, for code that sends things: <see cref="Stopping"/>, after which nothing new
/// is started, and <see cref="Deadline"/>, shortly before the host stops waiting, when a send still in progress is
/// abandoned so that its outcome can still be written down.
/// </summary>
public sealed class ShutdownGrace : IDisposable
{
    /// <summary>Time kept back from the shutdown timeout for recording what the abandoned sends came to.</summary>
    private static readonly TimeSpan RecordingMargin = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource deadline = new();
    private readonly CancellationTokenRegistration registration;
    private ITimer? timer;

    public ShutdownGrace(IHostApplicationLifetime lifetime, IOptions<ServiceOptions> options, TimeProvider time)
    {
        Stopping = lifetime.ApplicationStopping;
        var wait = TimeSpan.FromSeconds(options.Value.ShutdownTimeoutSeconds) - RecordingMargin;
        registration = Stopping.Register(() => timer = time.CreateTimer(_ => deadline.Cancel(), null, wait, Timeout.InfiniteTimeSpan));
    }

    public CancellationToken Stopping { get; }

    public CancellationToken Deadline => deadline.Token;

    public void Dispose()
    {
        registration.Dispose();
        timer?.Dispose();
        deadline.Dispose();
    }
}
