namespace Syndicator.Announcements;

/// <summary>
/// A post ready to send: the text (which ends with or contains <see cref="Url"/>), and what a link card needs.
/// <see cref="IdempotencyKey"/> is derived from the delivery, so every retry of one delivery carries the same key.
/// </summary>
public sealed record ComposedPost(
    string Text,
    string Url,
    string Title,
    string Summary,
    string? ImageUrl,
    string? Language,
    string IdempotencyKey);
