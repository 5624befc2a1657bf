namespace Syndicator.Tests.Support;

public sealed class ConsoleStreamsTests
{
    /// <summary>
    /// What Playwright does when it starts its driver must leave the writers the console loggers write through in place:
    /// the console's own writer is flushed and dropped under the console's lock, which deadlocked a CI run (see <see cref="ConsoleStreams"/>).
    /// </summary>
    [Fact(Timeout = TestTimeouts.Default)]
    public async Task Setting_the_console_encoding_leaves_the_output_writers_as_they_are()
    {
        await Task.Yield();
        var (output, error) = (Console.Out, Console.Error);

        Console.OutputEncoding = Console.OutputEncoding;

        Assert.Same(output, Console.Out);
        Assert.Same(error, Console.Error);
    }
}
