using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Syndicator.Hosting;
using Syndicator.Web;

namespace Syndicator.Cli;

/// <summary>
/// <c>syndicator health</c>: asks the running service's <c>/health</c> endpoint, for container HEALTHCHECKs
/// on images without curl. Exit 0 when it answers 200, 1 otherwise.
/// </summary>
internal static class HealthCommand
{
    public static Command Create()
    {
        var command = new Command("health", "Check that the running service answers on its /health endpoint.");
        command.SetAction(async (_, ct) =>
        {
            var configuration = new ConfigurationBuilder().AddJsonFile(ConfigLocator.Find()).AddEnvironmentVariables().Build();
            // /health is an operators' path: it answers where they listen.
            var listen = configuration.GetSection(HttpOptions.Section).Get<HttpOptions>() ?? new HttpOptions();
            var first = listen.OperatorListener[0]
                .Replace("0.0.0.0", "127.0.0.1").Replace("://*", "://127.0.0.1").Replace("://+", "://127.0.0.1").Replace("[::]", "127.0.0.1");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                using var response = await http.GetAsync(new Uri(new Uri(first), "/health"), ct);
                Console.WriteLine($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}".Trim());
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Console.Error.WriteLine($"health: no answer from {first}/health: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
