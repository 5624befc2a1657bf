using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Syndicator.Scheduling;

namespace Syndicator.Articles.Import;

/// <summary>
/// Watches the drop folder and runs the drop-folder job as soon as what was dropped there has stopped changing for
/// <see cref="ImportOptions.WatchQuietMilliseconds"/>, so a new article reaches the feeds in about a second instead of
/// at the next scan. The job's interval scan stays as the fallback: for files that were there before the service
/// started, events the operating system dropped (a watcher overflow), and folders a watcher cannot see (some network shares).
/// </summary>
/// <remarks>
/// Events only wake the job; the job decides what is ready from the files themselves (<see cref="ArticleFiles.ScanInboxAsync"/>
/// imports a file once its modification time is a quiet window old), so a lost or duplicated event can neither import
/// a file twice nor import one that is still being written.
/// </remarks>
public sealed class InboxWatcher(IHostEnvironment environment, JobTrigger jobs, IOptions<ImportOptions> options, TimeProvider time, ILogger<InboxWatcher> logger)
    : BackgroundService
{
    // One pending wake-up is enough: a burst of events collapses into it.
    private readonly Channel<bool> wakes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile bool watching;
    private long lastEvent;

    /// <summary>True while events arrive from a working watcher: the job may then trust the quiet window instead of <see cref="ImportOptions.SettleSeconds"/>.</summary>
    public bool IsWatching => watching;

    private string Inbox => options.Value.InboxFullPath(environment);

    public TimeSpan Quiet => TimeSpan.FromMilliseconds(options.Value.WatchQuietMilliseconds);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.WatchQuietMilliseconds == 0) return; // switched off: the interval scan alone
        FileSystemWatcher watcher;
        try
        {
            Directory.CreateDirectory(Inbox);
            watcher = new FileSystemWatcher(Inbox)
            {
                IncludeSubdirectories = false, // processed/ and rejected/ are the job's own output
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
                InternalBufferSize = 64 * 1024, // room for a burst of a few thousand names before an overflow
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            logger.LogWarning(e, "Cannot watch the drop folder {Inbox}; new files are imported at the DropFolderImport job's interval only", Inbox);
            return;
        }

        using (watcher)
        {
            watcher.Created += (_, e) => Wake(e.Name);
            watcher.Changed += (_, e) => Wake(e.Name);
            watcher.Renamed += (_, e) => Wake(e.Name);
            watcher.Error += (_, e) =>
            {
                // An overflow lost events: the scan still finds every file, so wake it rather than trust the gap.
                logger.LogWarning(e.GetException(), "The drop-folder watcher lost events; scanning the whole folder");
                wakes.Writer.TryWrite(true);
            };
            watcher.EnableRaisingEvents = true;
            watching = true;
            try
            {
                await PumpAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
            finally
            {
                watching = false;
            }
        }
    }

    private void Wake(string? name)
    {
        // Hidden files and sidecars are never imported alone; a sidecar's article file is woken by its own events.
        if (name is null || name.StartsWith('.') || ArticleFileReader.IsSidecar(name)) return;
        Interlocked.Exchange(ref lastEvent, time.GetTimestamp());
        wakes.Writer.TryWrite(true);
    }

    /// <summary>The job found files not yet quiet (written again after the wake-up): look again after another window.</summary>
    public void WakeLater()
    {
        if (!watching) return;
        Interlocked.Exchange(ref lastEvent, time.GetTimestamp());
        wakes.Writer.TryWrite(true);
    }

    /// <summary>Debounces: waits until no event has come for the quiet window, runs the job, and goes round again while files keep changing.</summary>
    private async Task PumpAsync(CancellationToken stoppingToken)
    {
        while (await wakes.Reader.WaitToReadAsync(stoppingToken))
        {
            wakes.Reader.TryRead(out _);
            // The file must also look quiet to the job (modification time), so wait out the window after the last event.
            TimeSpan since;
            while ((since = time.GetElapsedTime(Interlocked.Read(ref lastEvent))) < Quiet)
                await Task.Delay(Quiet - since, time, stoppingToken);
            try
            {
                await jobs.FireNowAsync(JobCatalog.DropFolderImport, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The scheduler may be shutting down or briefly unreachable (a clustered store): the scan comes anyway.
                logger.LogWarning(e, "Could not start the drop-folder import after a change in {Inbox}; the interval scan will pick it up", Inbox);
            }
        }
    }
}
