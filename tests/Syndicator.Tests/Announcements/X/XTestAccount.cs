using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Syndicator.Announcements;
using Syndicator.Announcements.X;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Announcements.X;

/// <summary>
/// An X account pointed at a <see cref="FakeXServer"/>, its four secrets in environment variables with names unique
/// to the test (<c>env:SYN_TEST_X_{guid}_...</c>) — or the consumer secret in a file (<c>file:</c>) — removed on dispose.
/// </summary>
public sealed class XTestAccount : IDisposable
{
    private readonly List<string> variables = [];

    public XTestAccount(FakeXServer server, string consumerSecret = FakeXServer.ConsumerSecret, bool consumerSecretInFile = false)
        : this(server.BaseUrl, server.AccessToken, consumerSecret, consumerSecretInFile)
    {
    }

    public XTestAccount(string baseUrl, string accessToken, string consumerSecret = FakeXServer.ConsumerSecret, bool consumerSecretInFile = false)
    {
        var prefix = "SYN_TEST_X_" + Guid.NewGuid().ToString("N").ToUpperInvariant() + "_";
        Account = new SocialAccount { Name = "magazine-x-" + Guid.NewGuid().ToString("N")[..8], Network = Network.X, BaseUrl = baseUrl };
        Account.Credentials["ConsumerKey"] = Variable(prefix + "CONSUMER_KEY", FakeXServer.ConsumerKey);
        Account.Credentials["ConsumerSecret"] = consumerSecretInFile
            ? "file:secrets/x_consumer_secret" // relative: resolved against the content root
            : Variable(prefix + "CONSUMER_SECRET", consumerSecret);
        if (consumerSecretInFile) Dir.File("secrets/x_consumer_secret", consumerSecret + "\n");
        Account.Credentials["AccessToken"] = Variable(prefix + "ACCESS_TOKEN", accessToken);
        Account.Credentials["AccessTokenSecret"] = Variable(prefix + "ACCESS_TOKEN_SECRET", FakeXServer.AccessTokenSecret);
    }

    public SocialAccount Account { get; }

    /// <summary>The content root the client resolves <c>file:</c> references against.</summary>
    public TempDir Dir { get; } = new();

    public XClient Client(TimeSpan? timeout = null, TimeProvider? time = null) =>
        new(new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(10) }, new Environment(Dir.Path), time ?? TimeProvider.System);

    public static ComposedPost Post(string text, string url) =>
        new(text, url, "Title", "Summary", null, "en", "delivery-" + Guid.NewGuid().ToString("N"));

    private string Variable(string name, string value)
    {
        System.Environment.SetEnvironmentVariable(name, value);
        variables.Add(name);
        return "env:" + name;
    }

    public void Dispose()
    {
        foreach (var name in variables) System.Environment.SetEnvironmentVariable(name, null);
        Dir.Dispose();
    }

    private sealed class Environment(string root) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";
        public string ApplicationName { get; set; } = "syndicator";
        public string ContentRootPath { get; set; } = root;
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
