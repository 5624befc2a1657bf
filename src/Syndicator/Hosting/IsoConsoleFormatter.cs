using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Syndicator.Shared;

namespace Syndicator.Hosting;

/// <summary>
/// The simple console logger's single line ("timestamp level: category[event] message"), with the timestamp in ISO 8601
/// UTC written in the invariant culture. The simple formatter writes its TimestampFormat in the current culture, so on a
/// server with LANG=fa_IR it prints the Persian year (1405-09-04) however the format is spelled.
/// </summary>
/// <remarks>Under systemd, AddSystemd switches to its own formatter (no timestamp: journald stamps each line).</remarks>
public sealed class IsoConsoleFormatter(TimeProvider time) : ConsoleFormatter(Name)
{
    public new const string Name = "iso";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        textWriter.Write(time.GetUtcNow().UtcDateTime.ToString(IsoTime.LogTimestampFormat, System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id);
        textWriter.Write("] ");
        // One entry, one line: a message or stack trace with line breaks would otherwise look like several entries.
        if (message is not null) textWriter.Write(OneLine(message));
        if (logEntry.Exception is not null)
        {
            textWriter.Write(' ');
            textWriter.Write(OneLine(logEntry.Exception.ToString()));
        }
        textWriter.Write(Environment.NewLine);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
