using Microsoft.Extensions.Configuration;
using Syndicator.Hosting;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Hosting;

public sealed class ClusterConfigTests
{
    private static IReadOnlyList<string> Problems(Dictionary<string, string?> settings)
    {
        try
        {
            using var app = ConfigProblems.BuildValidated(() => SyndicatorHost.Build([], c => c.AddInMemoryCollection(settings)));
            return [];
        }
        catch (ConfigProblemsException e)
        {
            return e.Problems;
        }
    }

    private static Dictionary<string, string?> Cluster(string signingKey) => new()
    {
        ["Storage:Provider"] = "PostgreSql",
        ["Storage:ConnectionString"] = "Host=127.0.0.1;Database=syndicator;Username=syndicator",
        ["Storage:Clustered"] = "true",
        ["Digests:SigningKey"] = signingKey,
    };

    [Fact]
    public void A_cluster_node_refuses_to_make_its_own_signing_key_because_the_other_nodes_could_not_check_its_links()
    {
        using var dir = new TempDir();
        var missing = Path.Combine(dir.Path, "signing.key");

        var problem = Assert.Single(Problems(Cluster("file:" + missing)));

        Assert.StartsWith($"Digests:SigningKey (file:{missing}) does not exist, and in a cluster every node must sign links with the same key", problem);
        Assert.Contains("give that file (or env:VARIABLE) to every node", problem);
        Assert.False(File.Exists(missing), "the check must not create the key");
    }

    [Fact]
    public void A_cluster_node_starts_with_a_signing_key_file_that_exists()
    {
        using var dir = new TempDir();
        var key = dir.File("signing.key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));

        Assert.Empty(Problems(Cluster("file:" + key)));
    }
}
