using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Syndicator.Articles.Import;

/// <summary>
/// The announcement controls a file may set: <c>announce</c> (true/false), <c>announceAt</c> (an ISO 8601 time with
/// its offset), <c>social: { x, mastodon, bluesky }</c> (the post's own text) and <c>skipAccounts</c> (account names).
/// Null means "not set here". A value that could post at the wrong time or against the publisher's wish
/// (<c>announce: flase</c>, <c>announceAt</c> without an offset) refuses the file; a social text with control
/// characters is cleaned with a warning, and one longer than <see cref="MaxSocialText"/> is dropped with a warning.
/// </summary>
internal sealed partial record AnnouncementControlFields(bool? Announce, DateTimeOffset? AnnounceAt, SocialTexts? Texts, IReadOnlyList<string>? SkipAccounts)
{
    /// <summary>Far above every network's limit (X 280, Bluesky 300, Mastodon 500): anything longer is a mistake, not a post.</summary>
    public const int MaxSocialText = 5000;

    public static readonly AnnouncementControlFields None = new(null, null, null, null);

    public static AnnouncementControlFields Read(Metadata meta, ICollection<string> warnings) => new(
        ReadAnnounce(meta),
        ReadAnnounceAt(meta),
        ReadTexts(meta, warnings),
        meta.Has("skipAccounts", "skip_accounts", "skip") ? meta.List("skipAccounts", "skip_accounts", "skip").Distinct(StringComparer.OrdinalIgnoreCase).ToList() : null);

    public AnnouncementControls ApplyTo(AnnouncementControls controls) => new(
        Announce ?? controls.Announce,
        AnnounceAt ?? controls.AnnounceAt,
        Texts is null ? controls.Texts : new SocialTexts(Texts.X ?? controls.Texts.X, Texts.Mastodon ?? controls.Texts.Mastodon, Texts.Bluesky ?? controls.Texts.Bluesky),
        SkipAccounts ?? controls.SkipAccounts);

    private static bool? ReadAnnounce(Metadata meta)
    {
        var text = meta.String("announce");
        if (text is null) return null;
        switch (text.Trim().ToLowerInvariant())
        {
            case "true" or "yes" or "on": return true;
            case "false" or "no" or "off": return false;
        }
        throw new ArticleRejectedException(
            $"'announce' is \"{Shared.Shown.Value(text)}\", which is neither true nor false; write 'announce: false' to keep this article off social media, or remove the line",
            meta.LineOf("announce"));
    }

    private static DateTimeOffset? ReadAnnounceAt(Metadata meta)
    {
        string[] keys = ["announceAt", "announce_at"];
        var text = meta.String(keys);
        if (text is null) return null;
        var key = meta.KeyOf(keys);
        // Without an offset the time would depend on the server's zone: refuse rather than post hours early or late.
        if (!WithOffset().IsMatch(text.Trim())
            || !DateTimeOffset.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            throw new ArticleRejectedException(
                $"'{key}' is \"{Shared.Shown.Value(text)}\", which is not an ISO 8601 time with its offset; write it like 2026-11-23T09:30:00+03:30 or 2026-11-23T06:00:00Z",
                meta.LineOf(key));
        return at.ToUniversalTime();
    }

    private static SocialTexts? ReadTexts(Metadata meta, ICollection<string> warnings)
    {
        if (!meta.Has("social")) return null;
        var section = meta.Section("social")
            ?? throw new ArticleRejectedException("'social' should hold one text per network, like 'social: { x: \"...\", mastodon: \"...\", bluesky: \"...\" }'", meta.LineOf("social"));
        return new SocialTexts(
            Text(section, warnings, "x", "twitter"),
            Text(section, warnings, "mastodon"),
            Text(section, warnings, "bluesky", "bsky"));
    }

    private static string? Text(Metadata section, ICollection<string> warnings, params string[] keys)
    {
        var raw = section.String(keys);
        if (raw is null) return null;
        var key = "social." + section.KeyOf(keys);
        var line = section.LineOf(section.KeyOf(keys));
        var where = line is null ? $"'{key}'" : $"'{key}' (line {line})";
        if (raw.Length > MaxSocialText)
        {
            warnings.Add($"{where} was dropped: it is {raw.Length:N0} characters long, more than any network takes; the template writes that post instead");
            return null;
        }
        var (clean, removed) = Clean(raw);
        if (removed > 0) warnings.Add($"{where}: {removed} control character(s) were removed from the post text");
        if (clean.Length == 0)
        {
            warnings.Add($"{where} was dropped: nothing is left once control characters are removed; the template writes that post instead");
            return null;
        }
        return clean;
    }

    /// <summary>Line breaks become '\n'; tabs a space; other control characters (C0, DEL, C1), bidi overrides and lone surrogates are removed.</summary>
    internal static (string Text, int Removed) Clean(string text)
    {
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Replace('\t', ' ');
        var sb = new StringBuilder(text.Length);
        var removed = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { sb.Append(c).Append(text[++i]); continue; }
            if (c == '\n' || (!char.IsControl(c) && !char.IsSurrogate(c) && c is not ('\u202A' or '\u202B' or '\u202D' or '\u202E'))) sb.Append(c);
            else removed++;
        }
        var result = sb.ToString().Trim();
        while (result.Contains("\n\n\n", StringComparison.Ordinal)) result = result.Replace("\n\n\n", "\n\n", StringComparison.Ordinal);
        return (result, removed);
    }

    [GeneratedRegex(@"(Z|[+-]\d{2}:?\d{2})$", RegexOptions.IgnoreCase)]
    private static partial Regex WithOffset();
}
