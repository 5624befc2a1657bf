using Syndicator.Articles.Import;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles;

public sealed class PlainTextArticleParserTests
{
    private static ArticleDraft Sample() =>
        PlainTextArticleParser.Parse(File.ReadAllText(Repo.SampleArticle), "sample.txt", "The Editors");

    [Fact]
    public void The_sample_article_yields_its_title()
    {
        Assert.Equal("The Iranian regime is losing its regional mystique", Sample().Title);
    }

    [Fact]
    public void The_sample_article_names_Hassan_Mahmoudi_as_author_with_his_X_handle()
    {
        var author = Sample().Author;
        Assert.Equal("Hassan Mahmoudi", author.Name);
        Assert.Equal("hassan_mahmou1", author.Handles.X);
        Assert.Null(author.Handles.Mastodon);
        Assert.Null(author.Handles.Bluesky);
        Assert.StartsWith("Hassan Mahmoudi is a social analyst", author.Bio);
    }

    [Fact]
    public void The_sample_articles_image_line_becomes_caption_and_credit()
    {
        var image = Sample().Image;
        Assert.NotNull(image);
        Assert.Equal("Qasim Musleh", image.Caption);
        Assert.Equal("YouTube screengrab", image.Credit);
    }

    [Fact]
    public void The_sample_body_holds_the_paragraphs_and_none_of_the_bio_caption_comment_or_boilerplate()
    {
        var body = Sample().BodyHtml;
        Assert.StartsWith("<p>Since the establishment of the religious regime in Iran in 1979", body);
        Assert.Contains("This is the time to tear it down, not built it up.</p>", body);
        Assert.DoesNotContain("social analyst", body);
        Assert.DoesNotContain("IMAGE", body);
        Assert.DoesNotContain("YouTube screengrab", body);
        Assert.DoesNotContain("To comment", body);
        Assert.DoesNotContain("technical problems", body);
        Assert.DoesNotContain("The Iranian regime is losing its regional mystique", body);
        Assert.Equal(12, body.Split("<p>").Length - 1);
    }

    [Fact]
    public void The_sample_summary_is_the_opening_of_the_first_paragraph()
    {
        var summary = Sample().Summary!;
        Assert.StartsWith("Since the establishment of the religious regime", summary);
        Assert.True(summary.Length <= Summaries.MaxLength, $"summary is {summary.Length} characters");
        Assert.EndsWith("…", summary);
    }

    [Fact]
    public void Text_in_the_body_is_html_encoded()
    {
        var draft = PlainTextArticleParser.Parse("Title\n\nA <script>alert(1)</script> & more\n", "a.txt", "Ed");
        Assert.Equal("<p>A &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</p>", draft.BodyHtml);
    }

    [Fact]
    public void A_comment_line_with_a_link_gives_the_comment_url()
    {
        var draft = PlainTextArticleParser.Parse(
            "Title\n\nBody text.\n\n*Jane Doe writes.\n\nTo comment, visit https://talk.example/t/42.\n", "a.txt", "Ed");
        Assert.Equal("https://talk.example/t/42", draft.CommentUrl);
        Assert.Equal("<p>Body text.</p>", draft.BodyHtml);
    }

    [Fact]
    public void An_article_without_a_bio_gets_the_default_author_and_still_loses_its_trailing_boilerplate()
    {
        var draft = PlainTextArticleParser.Parse(
            "Title\n\nBody text.\n\nTo comment, you can find the post here.\n\nIf you experience technical problems, please write to", "a.txt", "The Editors");
        Assert.Equal("The Editors", draft.Author.Name);
        Assert.Equal("<p>Body text.</p>", draft.BodyHtml);
    }

    [Fact]
    public void A_file_whose_first_line_is_empty_is_rejected_for_having_no_title()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => PlainTextArticleParser.Parse("\n\n   \n", "a.txt", "Ed"));
        Assert.Contains("no title", e.Message);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void A_title_without_body_is_rejected()
    {
        var e = Assert.Throws<ArticleRejectedException>(() => PlainTextArticleParser.Parse("Only a title\n", "a.txt", "Ed"));
        Assert.Contains("no body", e.Message);
    }
}
