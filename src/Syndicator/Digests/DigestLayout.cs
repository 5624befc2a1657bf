using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Ast;
using Fluid.Ast.BinaryExpressions;
using Fluid.Values;
using MimeKit;
using MimeKit.Encodings;

namespace Syndicator.Digests;

/// <summary>
/// The template variables that differ from one reader of a digest edition to the next. Everything else a digest's
/// templates see (the articles, counts, site, the reader's frequency) is the same for every reader of an edition
/// with the same frequency, so the templates are rendered once per edition with markers in these places and each
/// message splices its reader's values in (<see cref="DigestLayout"/>).
/// </summary>
internal static class ReaderSlots
{
    public const int Name = 0, UnsubscribeUrl = 1, PreferencesUrl = 2, ConfirmUrl = 3, Subject = 4;

    public static readonly string[] Variables = ["name", "unsubscribe_url", "preferences_url", "confirm_url", "subject"];

    /// <summary>
    /// Whether a template shows the reader's values only as they are (<c>{{ name }}</c>, no filter) and compares them
    /// with nothing but the empty string (<c>{% if name != "" %}</c>): then rendering it with a marker in place of
    /// each non-empty value and splicing the values in afterwards gives the same text as rendering it per reader.
    /// Anything else that could see inside a value (a filter, <c>assign</c>, <c>capture</c>, <c>include</c>, a
    /// comparison with another string, a tag this check does not know) keeps the template rendered per reader.
    /// </summary>
    public static bool Splicable(IFluidTemplate template)
    {
        var check = new SpliceCheck();
        try
        {
            check.VisitTemplate(template);
        }
        catch (NotSupportedException)
        {
            return false;
        }
        return check.Safe;
    }

    private sealed class SpliceCheck : AstVisitor
    {
        public bool Safe { get; private set; } = true;

        public override Statement Visit(Statement statement)
        {
            switch (statement)
            {
                case null:
                    return null!;
                case OutputStatement output:
                    // A reader's value shown as it is: the marker stands in for it.
                    if (output.Expression is MemberExpression member && IsSlot(member) && (output.Filters is null || output.Filters.Count == 0)) return statement;
                    Visit(output.Expression);
                    if (output.Filters is not null)
                        foreach (var filter in output.Filters) Visit(filter);
                    return statement;
                case TextSpanStatement or IfStatement or ElseIfStatement or ElseStatement or ForStatement or UnlessStatement or CommentStatement
                    or RawStatement or AssignStatement or CaseStatement or BreakStatement or ContinueStatement or NoOpStatement
                    or IncrementStatement or DecrementStatement or CycleStatement:
                    return base.Visit(statement);
                default:
                    // capture, include, render, macros, custom tags: they may pass a marker through a filter or another template.
                    Safe = false;
                    return statement;
            }
        }

        public override Expression Visit(Expression expression)
        {
            switch (expression)
            {
                case EqualBinaryExpression or NotEqualBinaryExpression when expression is BinaryExpression binary
                    && ((binary.Left is MemberExpression l && Comparable(l) && IsEmptyString(binary.Right)) || (binary.Right is MemberExpression r && Comparable(r) && IsEmptyString(binary.Left))):
                    // Emptiness is part of the layout's key: a marker is never empty, an empty value is rendered as itself.
                    // Not the subject's: it is made from the layout, so it cannot choose one.
                    return expression;
                case MemberExpression member when member.Segments.Count == 0 || member.Segments[0] is not IdentifierSegment || Touches(member):
                    Safe = false;
                    return expression;
                default:
                    return base.Visit(expression);
            }
        }

        private static bool IsSlot(MemberExpression member) => member.Segments.Count == 1 && Touches(member);

        private static bool Comparable(MemberExpression member) => IsSlot(member) && ((IdentifierSegment)member.Segments[0]).Identifier != Variables[Subject];

        private static bool Touches(MemberExpression member) =>
            member.Segments.Count > 0 && member.Segments[0] is IdentifierSegment id && Array.IndexOf(Variables, id.Identifier) >= 0;

        private static bool IsEmptyString(Expression expression) =>
            expression is LiteralExpression { Value: StringValue value } && value.ToStringValue().Length == 0;
    }
}

/// <summary>
/// A digest edition's subject, plain text and HTML rendered once for one kind of reader (frequency, state, which of
/// their values are empty), split at the reader's values. The body parts are kept quoted-printable encoded
/// piece by piece: each piece starts a line of its own encoding and ends with a soft line break, so a message's
/// body is its pieces and its reader's encoded values laid end to end, and decodes to exactly what rendering the
/// templates for that reader gives. A body whose text would grow by more than a quarter in quoted-printable over
/// base64 (mostly non-Latin text) is left to MimeKit to encode per message.
/// </summary>
internal sealed class DigestLayout(SplicedText subject, SplicedText text, SplicedText html)
{
    public SplicedText Subject { get; } = subject;
    public SplicedText Text { get; } = text;
    public SplicedText Html { get; } = html;
}

/// <summary>A rendered template cut at its reader's values: literals[0] value literals[1] value … literals[n].</summary>
internal sealed class SplicedText
{
    /// <summary>MimeKit's encoder may end a line up to three characters past its limit (a last escape and the soft break); RFC 2045 allows 76.</summary>
    private const int LineLength = 72;
    private readonly string[] literals;
    private readonly int[] slots;
    private readonly byte[][]? encoded;

    private SplicedText(string[] literals, int[] slots, bool encode)
    {
        this.literals = literals;
        this.slots = slots;
        if (!encode) return;
        var pieces = literals.Select(l => QuotedPrintable(Encoding.UTF8.GetBytes(l))).ToArray();
        var utf8 = literals.Sum(l => Encoding.UTF8.GetByteCount(l));
        if (pieces.Sum(p => (long)p.Length) <= utf8 * 4L / 3 * 5 / 4 + 64) encoded = pieces.Select(Crlf).ToArray();
    }

    /// <summary>The text cut at <paramref name="marker"/>{slot letter}; null when a marker names no slot (the output is not what the check expected).</summary>
    public static SplicedText? Cut(string rendered, string marker, bool encode)
    {
        var literals = new List<string>();
        var slots = new List<int>();
        var start = 0;
        while (rendered.IndexOf(marker, start, StringComparison.Ordinal) is var at and >= 0)
        {
            var letter = at + marker.Length < rendered.Length ? rendered[at + marker.Length] - 'a' : -1;
            if (letter < 0 || letter >= ReaderSlots.Variables.Length) return null;
            literals.Add(rendered[start..at]);
            slots.Add(letter);
            start = at + marker.Length + 1;
        }
        literals.Add(rendered[start..]);
        return new SplicedText([.. literals], [.. slots], encode);
    }

    /// <summary>Whether <see cref="EncodedBody"/> can be used (false: the body is better left to MimeKit).</summary>
    public bool Encoded => encoded is not null;

    public string Render(string[] values, TextEncoder? encoder)
    {
        var text = new StringBuilder(literals.Sum(l => l.Length) + 256);
        for (var i = 0; i < literals.Length; i++)
        {
            text.Append(literals[i]);
            if (i < slots.Length) text.Append(encoder is null ? values[slots[i]] : encoder.Encode(values[slots[i]]));
        }
        return text.ToString();
    }

    /// <summary>
    /// The body in quoted-printable with CRLF line ends (as it goes on the wire): the pre-encoded pieces with this
    /// reader's values encoded between them, in one array of the exact length.
    /// </summary>
    public byte[] EncodedBody(string[] values, TextEncoder? encoder)
    {
        var pieces = encoded ?? throw new InvalidOperationException("This text is not kept encoded.");
        var spliced = new byte[slots.Length][];
        var length = 0;
        for (var i = 0; i < pieces.Length; i++)
        {
            length += pieces[i].Length;
            if (i >= slots.Length) continue;
            var value = values[slots[i]];
            spliced[i] = Crlf(QuotedPrintable(Encoding.UTF8.GetBytes(encoder is null ? value : encoder.Encode(value))));
            length += spliced[i].Length;
        }
        var output = new byte[length];
        var at = 0;
        for (var i = 0; i < pieces.Length; i++)
        {
            pieces[i].CopyTo(output, at);
            at += pieces[i].Length;
            if (i >= slots.Length) continue;
            spliced[i].CopyTo(output, at);
            at += spliced[i].Length;
        }
        return output;
    }

    /// <summary>MimeKit's encoder ends lines with LF alone and leaves no CR unescaped (=0D): each LF gets its CR.</summary>
    private static byte[] Crlf(byte[] lf)
    {
        var lines = lf.AsSpan().Count((byte)'\n');
        if (lines == 0) return lf;
        var output = new byte[lf.Length + lines];
        var from = 0;
        var to = 0;
        while (lf.AsSpan(from).IndexOf((byte)'\n') is var next and >= 0)
        {
            lf.AsSpan(from, next).CopyTo(output.AsSpan(to));
            to += next;
            output[to++] = (byte)'\r';
            output[to++] = (byte)'\n';
            from += next + 1;
        }
        lf.AsSpan(from).CopyTo(output.AsSpan(to));
        return output;
    }

    /// <summary>One piece encoded from the start of a line; it ends with a soft line break unless it ends a line.</summary>
    private static byte[] QuotedPrintable(byte[] input)
    {
        if (input.Length == 0) return [];
        var encoder = new QuotedPrintableEncoder(LineLength);
        var output = new byte[encoder.EstimateOutputLength(input.Length)];
        var length = encoder.Flush(input, 0, input.Length, output);
        return output.AsSpan(0, length).ToArray();
    }
}

/// <summary>The layouts of one edition (see <see cref="DigestContent"/>), by the kind of reader.</summary>
internal sealed class DigestLayouts
{
    private readonly ConcurrentDictionary<(DigestFrequency Frequency, bool Confirmed, int Empty), DigestLayout?> layouts = new();

    public DigestLayout? GetOrAdd((DigestFrequency, bool, int) kind, Func<(DigestFrequency, bool, int), DigestLayout?> make) => layouts.GetOrAdd(kind, make);
}

/// <summary>
/// A spliced body part: quoted-printable UTF-8 text kept as it goes on the wire (CRLF line ends). Written with CRLF
/// line ends (SMTP, DKIM), its headers and then its bytes go out as they are, in one write, instead of through
/// MimeKit's newline filter a few kilobytes at a time; written any other way (a pickup file on Linux, or after its
/// encoding was changed), MimeKit writes it as any text part. Either way the bytes are the ones MimeKit writes, as a
/// part of the digest's multipart/alternative (as a message's only body MimeKit would also make sure it ends a line).
/// </summary>
internal sealed class EncodedTextPart : TextPart
{
    private readonly byte[] wire;
    private readonly MimeContent content;

    public EncodedTextPart(string subtype, byte[] quotedPrintableCrlf) : base(subtype)
    {
        wire = quotedPrintableCrlf;
        content = new MimeContent(new MemoryStream(wire, writable: false), ContentEncoding.QuotedPrintable);
        ContentTransferEncoding = ContentEncoding.QuotedPrintable;
        Content = content;
        ContentType.Charset = "utf-8";
    }

    /// <summary>Whether the bytes can go as they are: CRLF wanted, and neither the content (read-only) nor its encoding replaced since.</summary>
    private bool AsIs(FormatOptions options) =>
        options.NewLineFormat == NewLineFormat.Dos && ContentTransferEncoding == ContentEncoding.QuotedPrintable && ReferenceEquals(Content, content);

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (!AsIs(options)) base.WriteTo(options, stream, contentOnly, cancellationToken);
        else
        {
            if (!contentOnly) Headers.WriteTo(options, stream, cancellationToken);
            stream.Write(wire);
        }
        // SMTP writes asynchronously; a synchronous writer of a part that waits for its mark blocks until the mark is known,
        // asleep: a task's own wait spins first, and relay threads spinning for marks being written took 1.4 % of the
        // machine's CPU from the threads writing them (perf, PostgreSQL, 100,000 readers; asleep on this event, 0.58 %,
        // none of it spinning). A slim event that never spins, and never needs disposing: no kernel handle is made unless
        // asked for, so nothing is left for the finalizer, as a task's own wait handle would be.
        var end = EndAsync();
        if (!end.IsCompleted)
        {
            var done = new ManualResetEventSlim(false, spinCount: 0);
            end.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(done.Set);
            done.Wait();
        }
        end.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Set by <see cref="MailConnection"/> for one SMTP send: the part's last bytes wait for this hand-over mark, and a
    /// mark that answers false or fails stops the message there (<see cref="HandOverNotMarkedException"/>), before the
    /// end of its data.
    /// </summary>
    internal Task<bool>? EndWaitsFor { get; set; }

    private Task EndAsync() => EndWaitsFor is { } mark ? HandOverNotMarkedException.ThrowUnlessMarkedAsync(mark) : Task.CompletedTask;

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        if (!AsIs(options)) await base.WriteToAsync(options, stream, contentOnly, cancellationToken);
        else
        {
            if (!contentOnly) await Headers.WriteToAsync(options, stream, cancellationToken);
            await stream.WriteAsync(wire, cancellationToken);
        }
        await EndAsync();
    }
}
