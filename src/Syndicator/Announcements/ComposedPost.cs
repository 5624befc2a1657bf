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
    string IdempotencyKey)
{
    /// <summary>The image's caption, posted as its alt text.</summary>
    public string? ImageAlt { get; init; }

    /// <summary>
    /// What the network gave for the image already uploaded for this delivery (an X or Mastodon media id, a Bluesky
    /// blob as JSON); null when the post goes without an image.
    /// </summary>
    public string? MediaRef { get; init; }
}
