using Syndicator.Articles.Import;

namespace Syndicator.Tests.Articles;

public sealed class MarkdownAndJsonParserTests
{
    [Fact]
    public void Bodies_cleaned_on_many_threads_at_once_each_get_their_own_link_warnings_only()
    {
        // One sanitizer serves every call (an import cleans a batch on every core); a warning must reach the call whose
        // body had the link, never a neighbour's.
        var results = new (string Html, List<string> Warnings)[400];
        Parallel.For(0, results.Length, i =>
        {
            var warnings = new List<string>();
            var html = i % 2 == 0
                ? $"<p>سلام {i} <a href=\"javascript:alert({i})\">x</a></p>"
                : $"<p>{i} 🚀 <a href=\"https://example.com/{i}\">y</a></p>";
            results[i] = (HtmlCleaner.Sanitize(html, warnings), warnings);
        });
        for (var i = 0; i < results.Length; i++)
        {
            var (html, warnings) = results[i];
            if (i % 2 == 0)
            {
                Assert.Contains($"alert({i})", Assert.Single(warnings));
                Assert.DoesNotContain("javascript:", html);
                Assert.Contains($"سلام {i}", html);
            }
            else
            {
                Assert.Empty(warnings);
                Assert.Contains($"https://example.com/{i}", html);
            }
        }
        // No warnings list given: the link is still removed.
        Assert.DoesNotContain("javascript:", HtmlCleaner.Sanitize("<a href=\"javascript:alert(1)\">z</a>"));
    }

    [Fact]
    public void Markdown_front_matter_sets_every_field()
    {
        var draft = MarkdownArticleParser.Parse("""
            ---
            title: Water wars
            slug: water-wars
            author:
              name: Amira Haddad
              bio: Amira Haddad covers the Nile.
              x: "@amira_h"
              bluesky: amira.bsky.social
            tags: [water, egypt]
            date: 2026-10-01T08:00:00Z
            image:
              url: https://cdn.example/dam.jpg
              caption: The dam
              credit: Reuters
            summary: Who owns a river?
            ---
            The **Nile** is long.

            <script>alert(1)</script><a href="javascript:alert(1)" onclick="x()">link</a>
            """, "water.md", "Ed");
        Assert.Equal("Water wars", draft.Title);
        Assert.Equal("water-wars", draft.Slug);
        Assert.Equal("Amira Haddad", draft.Author.Name);
        Assert.Equal("amira_h", draft.Author.Handles.X);
        Assert.Equal("amira.bsky.social", draft.Author.Handles.Bluesky);
        Assert.Equal(["water", "egypt"], draft.Tags);
        Assert.Equal(new DateTimeOffset(2026, 10, 1, 8, 0, 0, TimeSpan.Zero), draft.PublishedAt);
        Assert.Equal(new Syndicator.Articles.ArticleImage(Syndicator.Shared.WebUrl.Parse("https://cdn.example/dam.jpg"), "The dam", "Reuters"), draft.Image);
        Assert.Equal("Who owns a river?", draft.Summary);
        Assert.Contains("<strong>Nile</strong>", draft.BodyHtml);
        Assert.DoesNotContain("<script", draft.BodyHtml);
        Assert.DoesNotContain("javascript:", draft.BodyHtml);
        Assert.DoesNotContain("onclick", draft.BodyHtml);
    }

    [Fact]
    public void Markdown_without_front_matter_takes_its_title_from_the_first_heading()
    {
        var draft = MarkdownArticleParser.Parse("# Heading title\n\nFirst paragraph.\n", "h.md", "The Editors");
        Assert.Equal("Heading title", draft.Title);
        Assert.Equal("The Editors", draft.Author.Name);
        Assert.DoesNotContain("Heading title", draft.BodyHtml);
        Assert.Equal("First paragraph.", draft.Summary);
    }

    [Fact]
    public void Unclosed_front_matter_is_rejected_at_line_one()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => MarkdownArticleParser.Parse("---\ntitle: x\nbody\n", "x.md", "Ed"));
        Assert.Equal(1, e.Line);
        Assert.Contains("never closed", e.Message);
    }

    [Fact]
    public void Unreadable_front_matter_is_rejected_with_its_line()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => MarkdownArticleParser.Parse("---\ntitle: ok\ntags: [a, b\n---\nBody\n", "x.md", "Ed"));
        Assert.Contains("YAML", e.Message);
        Assert.NotNull(e.Line);
        Assert.InRange(e.Line.Value, 2, 5);
    }

    [Fact]
    public void A_bad_date_in_front_matter_is_rejected_naming_its_line()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => MarkdownArticleParser.Parse("---\ntitle: T\ndate: last tuesday\n---\nBody\n", "x.md", "Ed"));
        Assert.Equal(3, e.Line);
        Assert.Contains("not a date", e.Message);
    }

    [Fact]
    public void A_json_array_yields_one_draft_per_article()
    {
        var drafts = JsonArticleParser.Parse("""
            [
              { "title": "One", "author": { "name": "A Writer", "mastodon": "aw@m.example" }, "body": "Hello *there*", "tags": ["x"] },
              { "title": "Two", "author": "B Writer", "bodyHtml": "<p>Hi</p><img src=x onerror=alert(1)>", "publishedAt": "2026-01-02T03:04:05Z" }
            ]
            """, "many.json", "Ed");
        Assert.Equal(2, drafts.Count);
        Assert.Equal("aw@m.example", drafts[0].Author.Handles.Mastodon);
        Assert.Contains("<em>there</em>", drafts[0].BodyHtml);
        Assert.Equal("B Writer", drafts[1].Author.Name);
        Assert.DoesNotContain("onerror", drafts[1].BodyHtml);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), drafts[1].PublishedAt);
    }

    [Fact]
    public void Invalid_json_is_rejected_with_its_line()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => JsonArticleParser.Parse("{\n  \"title\": \"x\",\n  \"body\": oops\n}", "bad.json", "Ed"));
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void A_json_array_element_without_a_title_is_named_by_position()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => JsonArticleParser.Parse("[{\"title\":\"a\",\"body\":\"b\"},{\"body\":\"c\"}]", "bad.json", "Ed"));
        Assert.Contains("article 2 of the array", e.Message);
        Assert.Contains("no title", e.Message);
    }
}
