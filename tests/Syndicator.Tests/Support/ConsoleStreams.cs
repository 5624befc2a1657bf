using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Syndicator.Tests.Support;

/// <summary>
/// Gives this test process's <see cref="Console.Out"/> and <see cref="Console.Error"/> writers of its own, over the
/// standard output and error file descriptors, before any test runs.
/// </summary>
/// <remarks>
/// Why: Playwright sets <see cref="Console.OutputEncoding"/> around starting its driver (whenever the process has a
/// console). The setter holds the console's internal lock while it flushes and drops the console's own writer, which
/// needs that writer's lock; a host's console logger, meanwhile, holds the writer's lock while its write asks for the
/// console's lock. A dump of a CI run that stopped for good showed exactly that: the Chromium fixture and the console
/// logger each waiting for the other's lock, and every later test host stuck building its console logger (the
/// FeedHttpTests rows that timed out one after another, then nothing). A writer set with SetOut/SetError is left alone
/// by the setter, and one over the bare descriptor never takes the console's lock.
/// </remarks>
internal static class ConsoleStreams
{
    [ModuleInitializer]
    internal static void Detach()
    {
        Console.SetOut(Over(1));
        Console.SetError(Over(2));
    }

    private static TextWriter Over(int descriptor) =>
        TextWriter.Synchronized(new StreamWriter(new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), FileAccess.Write, bufferSize: 0),
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true });
}
