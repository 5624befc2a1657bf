using System.Globalization;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MimeKit;
using MimeKit.Cryptography;
using MimeKit.Utils;
using Syndicator.Articles;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>
/// Builds digest and confirmation e-mails with MimeKit: multipart/alternative (plain text and HTML with inline
/// styles) from the Liquid templates, a Message-ID fixed per delivery (so a resent copy is recognisably the same
/// message), List-Unsubscribe with an HTTPS link and a mailto plus List-Unsubscribe-Post (RFC 8058), and DKIM when
/// configured. Titles are stripped of line breaks, a name is used only when <see cref="SubscriberName"/> accepts it (no
/// line breaks, no link-like text), and MimeKit encodes headers, so nothing in an article or a subscriber's name can
/// inject a header or put a link into the greeting.
/// </summary>
public sealed class DigestComposer
{
    private static readonly FluidParser Parser = new();
    private readonly DigestOptions options;
    private readonly SiteOptions site;
    private readonly SubscriberTokens tokens;
    private readonly TimeProvider time;
    private readonly IFluidTemplate html, text, confirm, subject;
    private readonly DkimSigner? dkim;
    private readonly bool splicable;

    /// <summary>From, List-Unsubscribe-Post and List-Id: the same in every message, so encoded once and copied into each.</summary>
    private readonly Header fromHeader, listPostHeader, listIdHeader;

    /// <summary>The last subject header made: the readers of one edition mostly share their subject, so it is encoded once for them.</summary>
    private MadeSubject? lastSubject;

    /// <summary>A subject line and its header, swapped as one reference: composing runs on several threads.</summary>
    private sealed record MadeSubject(string Text, Header Header);

    /// <summary>Stands in for a reader's value when an edition's templates are rendered once: letters and digits, which no encoder changes; random, so no article contains it.</summary>
    private readonly string marker = "syn" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(10)) + "z";

    public DigestComposer(IOptions<DigestOptions> options, IOptions<SiteOptions> site, SubscriberTokens tokens, IHostEnvironment environment, TimeProvider time)
    {
        this.options = options.Value;
        this.site = site.Value;
        this.tokens = tokens;
        this.time = time;
        var folder = Path.GetFullPath(this.options.TemplatesPath, environment.ContentRootPath);
        html = LiquidTemplates.Load(Path.Combine(folder, "digest.html.liquid"), "Digests:TemplatesPath");
        text = LiquidTemplates.Load(Path.Combine(folder, "digest.txt.liquid"), "Digests:TemplatesPath");
        confirm = LiquidTemplates.Load(Path.Combine(folder, "confirm.txt.liquid"), "Digests:TemplatesPath");
        subject = Parser.TryParse(this.options.Subject, out var s, out var error) ? s : throw new InvalidOperationException($"Digests:Subject is not valid Liquid: {error}");
        splicable = ReaderSlots.Splicable(subject) && ReaderSlots.Splicable(text) && ReaderSlots.Splicable(html);
        // Made as any message's headers are, on a message of their own, so each copy carries the same bytes.
        var constant = new MimeMessage();
        constant.From.Add(new MailboxAddress(OneLine(this.options.FromName), this.options.FromAddress));
        constant.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
        // RFC 2919: mail programs and filters group and label the digests by this id.
        constant.Headers.Add(HeaderId.ListId, $"<digest.{this.options.FromAddress[(this.options.FromAddress.IndexOf('@') + 1)..]}>");
        fromHeader = constant.Headers.First(h => h.Id == HeaderId.From);
        listPostHeader = constant.Headers.First(h => h.Id == HeaderId.ListUnsubscribePost);
        listIdHeader = constant.Headers.First(h => h.Id == HeaderId.ListId);
        if (this.options.Dkim.Enabled)
        {
            var keyFile = this.options.Dkim.PrivateKeyFile ?? "";
            keyFile = Path.GetFullPath(keyFile.StartsWith("file:", StringComparison.Ordinal) ? keyFile[5..] : keyFile, environment.ContentRootPath);
            dkim = new DkimRsaSigner(keyFile, this.options.Dkim.Domain!, this.options.Dkim.Selector ?? "default")
            {
                HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
            };
        }
    }

    /// <summary>
    /// The envelope sender for a message with this delivery key: Digests:Feedback:ReturnPath with the key as its VERP
    /// tag (<c>bounces+{key}@domain</c>), or null to send from the From address.
    /// </summary>
    public string? ReturnPath(string deliveryKey) => options.Feedback.ReturnPath is { Length: > 0 } path
        ? $"{path[..path.IndexOf('@')]}+{tokens.MessageKey(deliveryKey)}{path[path.IndexOf('@')..]}"
        : null;

    /// <summary>The Message-ID's left part for a delivery: <c>syndicator-{key}</c> with the key as <see cref="SubscriberTokens.MessageKey"/> shows it.</summary>
    public string MessageKey(string deliveryKey) => $"syndicator-{tokens.MessageKey(deliveryKey)}";

    public string UnsubscribeUrl(Subscriber subscriber) => UnsubscribeUrl(tokens.Unsubscribe(subscriber.Id));

    private string UnsubscribeUrl(string token) => $"{options.PublicUrl.TrimEnd('/')}/unsubscribe?token={Uri.EscapeDataString(token)}";

    /// <summary>The reader's preferences page (frequency, time zone, follows), by a link made now that expires after Subscriptions:PreferencesLinkDays.</summary>
    public string PreferencesUrl(Subscriber subscriber) =>
        $"{options.PublicUrl.TrimEnd('/')}/preferences?token={Uri.EscapeDataString(tokens.Preferences(subscriber.Id, time.GetUtcNow()))}";

    /// <summary>The link that confirms the subscriber's current sign-up; empty when there is none to confirm.</summary>
    public string ConfirmUrl(Subscriber subscriber) => subscriber.SignUpId is { } signUp
        ? $"{options.PublicUrl.TrimEnd('/')}/subscribe/confirm?token={Uri.EscapeDataString(tokens.Confirmation(subscriber.Id, signUp))}"
        : "";

    public MimeMessage Digest(Subscriber subscriber, IReadOnlyList<Article> articles, string messageKey) => Digest(subscriber, Content(articles), messageKey);

    /// <summary>
    /// What every digest of the same articles shares, made once: the article list as the templates see it. A digest
    /// run mails the same few articles to many readers, so each message then adds only its reader's parts (name, links).
    /// </summary>
    public DigestContent Content(IReadOnlyList<Article> articles)
    {
        var shown = articles.Take(options.MaxArticles).Select(a => (FluidValue)new ObjectValue(new DigestArticle(
            OneLine(a.Title), a.CanonicalUrl, a.Author.Name, a.Summary, a.PublishedAt.ToString("d MMMM yyyy", CultureInfo.InvariantCulture)))).ToList();
        return new DigestContent(articles.Count, articles.Count - shown.Count, OneLine(articles[0].Title), new ArrayValue(shown));
    }

    public MimeMessage Digest(Subscriber subscriber, DigestContent content, string messageKey)
    {
        var unsubscribeToken = tokens.Unsubscribe(subscriber.Id);
        var unsubscribe = UnsubscribeUrl(unsubscribeToken);
        var values = new string[ReaderSlots.Variables.Length];
        values[ReaderSlots.Name] = Name(subscriber);
        values[ReaderSlots.UnsubscribeUrl] = unsubscribe;
        values[ReaderSlots.PreferencesUrl] = PreferencesUrl(subscriber);
        values[ReaderSlots.ConfirmUrl] = ConfirmUrl(subscriber);
        // The subject is a reader's value in the bodies, made first from the layout (so no template may test it for emptiness).
        var empty = 0;
        for (var i = 0; i < ReaderSlots.Subject; i++)
            if (values[i].Length == 0) empty |= 1 << i;
        var layout = splicable ? content.Layouts.GetOrAdd((subscriber.Frequency, subscriber.State == SubscriberState.Confirmed, empty), kind => Layout(content, kind)) : null;

        MimeMessage message;
        if (layout is null)
        {
            // A template that could look inside a reader's value: rendered for this reader alone.
            var context = Context(subscriber, unsubscribe);
            SetContent(context, content);
            var subjectLine = OneLine(subject.Render(context, NullEncoder.Default));
            context.SetValue("subject", new StringValue(subjectLine));
            message = Envelope(subscriber, values[ReaderSlots.Name], subjectLine, messageKey);
            message.Body = new BodyBuilder
            {
                TextBody = text.Render(context, NullEncoder.Default),
                HtmlBody = html.Render(context, HtmlEncoder.Default),
            }.ToMessageBody();
        }
        else
        {
            values[ReaderSlots.Subject] = OneLine(layout.Subject.Render(values, null));
            message = Envelope(subscriber, values[ReaderSlots.Name], values[ReaderSlots.Subject], messageKey);
            message.Body = new MultipartAlternative { Body(layout.Text, "plain", values, null), Body(layout.Html, "html", values, HtmlEncoder.Default) };
        }
        // The mailto carries the signed token, never the address: a mail naming someone else's address unsubscribes nobody.
        var mailto = options.Feedback.UnsubscribeAddress is { Length: > 0 } to ? to : options.FromAddress;
        message.Headers.Add("List-Unsubscribe", $"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe%20{Uri.EscapeDataString(unsubscribeToken)}>");
        message.Headers.Add(listPostHeader.Clone());
        message.Headers.Add(listIdHeader.Clone());
        return Signed(message);
    }

    /// <summary>
    /// The edition's templates rendered once for one kind of reader, with a marker in place of each non-empty reader's
    /// value; null when the output does not cut cleanly at the markers (then each message is rendered on its own).
    /// </summary>
    private DigestLayout? Layout(DigestContent content, (DigestFrequency Frequency, bool Confirmed, int Empty) kind)
    {
        var context = new TemplateContext(Options);
        SetShared(context, kind.Frequency, kind.Confirmed);
        SetContent(context, content);
        for (var i = 0; i < ReaderSlots.Subject; i++)
            context.SetValue(ReaderSlots.Variables[i], new StringValue((kind.Empty & (1 << i)) != 0 ? "" : marker + (char)('a' + i)));
        var subjectLine = SplicedText.Cut(subject.Render(context, NullEncoder.Default), marker, encode: false);
        context.SetValue(ReaderSlots.Variables[ReaderSlots.Subject], new StringValue(marker + (char)('a' + ReaderSlots.Subject)));
        var textBody = SplicedText.Cut(text.Render(context, NullEncoder.Default), marker, encode: true);
        var htmlBody = SplicedText.Cut(html.Render(context, HtmlEncoder.Default), marker, encode: true);
        return subjectLine is null || textBody is null || htmlBody is null ? null : new DigestLayout(subjectLine, textBody, htmlBody);
    }

    /// <summary>A body part of a spliced digest: its quoted-printable pieces and the reader's values as they are, or its text for MimeKit to encode.</summary>
    private static TextPart Body(SplicedText layout, string subtype, string[] values, TextEncoder? encoder)
    {
        return layout.Encoded ? new EncodedTextPart(subtype, layout.EncodedBody(values, encoder)) : new TextPart(subtype) { Text = layout.Render(values, encoder) };
    }

    private static void SetContent(TemplateContext context, DigestContent content)
    {
        context.SetValue("count", NumberValue.Create(content.Count));
        context.SetValue("more", NumberValue.Create(content.More));
        context.SetValue("first_title", new StringValue(content.FirstTitle));
        context.SetValue("articles", content.Articles);
    }

    public MimeMessage Confirmation(Subscriber subscriber, string messageKey)
    {
        var message = Envelope(subscriber, Name(subscriber), $"Confirm your subscription to {OneLine(site.Title)}", messageKey);
        message.Body = new TextPart("plain") { Text = confirm.Render(Context(subscriber, UnsubscribeUrl(subscriber)), NullEncoder.Default) };
        return Signed(message);
    }

    internal sealed record DigestArticle(string Title, string Url, string Author, string Summary, string Date);

    private static readonly TemplateOptions Options = CreateOptions();

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions();
        options.MemberAccessStrategy.IgnoreCasing = true;
        options.MemberAccessStrategy.Register<DigestArticle>();
        return options;
    }

    private TemplateContext Context(Subscriber subscriber, string unsubscribeUrl)
    {
        var context = new TemplateContext(Options);
        SetShared(context, subscriber.Frequency, subscriber.State == SubscriberState.Confirmed);
        context.SetValue("name", new StringValue(Name(subscriber)));
        context.SetValue("unsubscribe_url", new StringValue(unsubscribeUrl));
        context.SetValue("confirm_url", new StringValue(ConfirmUrl(subscriber)));
        context.SetValue("preferences_url", new StringValue(PreferencesUrl(subscriber)));
        return context;
    }

    /// <summary>What the templates see that is the same for every reader of the same frequency and state.</summary>
    private void SetShared(TemplateContext context, DigestFrequency frequency, bool confirmed)
    {
        context.SetValue("site", new StringValue(OneLine(site.Title)));
        context.SetValue("site_url", new StringValue(site.BaseUrl));
        context.SetValue("language", new StringValue(site.Language));
        context.SetValue("already_subscribed", BooleanValue.Create(confirmed));
        context.SetValue("frequency", new StringValue(frequency == DigestFrequency.Daily ? "daily" : "weekly"));
    }

    private Header SubjectHeader(string subjectLine)
    {
        if (Volatile.Read(ref lastSubject) is { } last && string.Equals(last.Text, subjectLine, StringComparison.Ordinal)) return last.Header;
        var made = new MimeMessage { Subject = subjectLine }.Headers.First(h => h.Id == HeaderId.Subject);
        Volatile.Write(ref lastSubject, new MadeSubject(subjectLine, made));
        return made;
    }

    private MimeMessage Envelope(Subscriber subscriber, string name, string subjectLine, string messageKey)
    {
        // Made with its own From, Date, Subject and Message-Id, in the order MimeKit puts them: the constructor without
        // them makes a Date, a random Message-Id and an empty Subject only for them to be replaced. The same bytes, in
        // 5.5 µs and 8 KB instead of 15 µs and 13 KB (measured alone).
        var message = new MimeMessage(
            fromHeader.Clone(),
            new Header(HeaderId.Date, DateUtils.FormatDate(time.GetUtcNow())),
            SubjectHeader(subjectLine).Clone(),
            new Header(HeaderId.MessageId, $"<{messageKey}@{options.FromAddress[(options.FromAddress.IndexOf('@') + 1)..]}>"));
        if (options.ReplyTo is { } replyTo) message.ReplyTo.Add(MailboxAddress.Parse(replyTo));
        message.To.Add(new MailboxAddress(name, subscriber.Email));
        // Postmark reports bounces with its own message ids; metadata it echoes back ties them to the delivery.
        if (!string.IsNullOrWhiteSpace(options.Feedback.Webhooks.Postmark.UserName))
            message.Headers.Add("X-PM-Metadata-" + Feedback.RelayWebhooks.PostmarkMetadata, messageKey["syndicator-".Length..]);
        return message;
    }

    private MimeMessage Signed(MimeMessage message)
    {
        if (dkim is null) return message;
        message.Prepare(EncodingConstraint.SevenBit);
        dkim.Sign(message, [HeaderId.From, HeaderId.To, HeaderId.Subject, HeaderId.Date, HeaderId.MessageId, HeaderId.ListUnsubscribe, HeaderId.ListUnsubscribePost, HeaderId.ListId]);
        return message;
    }

    /// <summary>The reader's name as a greeting may show it: empty for a name <see cref="SubscriberName"/> would not accept today (a link, a domain, too long).</summary>
    private static string Name(Subscriber subscriber) => SubscriberName.Displayable(subscriber.Name) ? subscriber.Name! : "";

    /// <summary>Line breaks in a title or name would otherwise end the header they are put in.</summary>
    private static string OneLine(string value) => string.Join(' ', value.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>The part of a digest all its readers share (see <see cref="DigestComposer.Content"/>): how many articles, how many not shown, the first title, the shown ones as the templates see them.</summary>
public sealed record DigestContent(int Count, int More, string FirstTitle, FluidValue Articles)
{
    /// <summary>The edition's templates rendered once per kind of reader (see <see cref="DigestComposer"/>).</summary>
    internal DigestLayouts Layouts { get; } = new();
}
