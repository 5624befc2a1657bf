using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Announcements;

/// <summary>Checks each account: a unique name, a network, a usable base URL, every credential a reference that resolves (for enabled accounts), valid templates.</summary>
/// <param name="configuration">The raw values: an account's Network that is missing or not a network binds as X, and must not be checked as one.</param>
internal sealed class AnnouncementOptionsValidator(string contentRoot, IConfiguration configuration) : IValidateOptions<AnnouncementOptions>
{
    private static readonly string[] Visibilities = ["public", "unlisted", "private", "direct"];

    public ValidateOptionsResult Validate(string? name, AnnouncementOptions options)
    {
        var errors = new List<string>();
        for (var i = 0; i < options.Accounts.Count; i++)
        {
            var account = options.Accounts[i];
            var key = $"Announcements:Accounts:{i}";
            if (string.IsNullOrWhiteSpace(account.Name)) errors.Add($"{key}:Name is empty; give the account a unique name such as \"magazine-x\".");
            else if (options.Accounts.Take(i).Any(a => string.Equals(a.Name, account.Name, StringComparison.OrdinalIgnoreCase)))
                errors.Add($"{key}:Name '{account.Name}' is used by another account; account names must be unique.");
            if (string.IsNullOrWhiteSpace(configuration[$"{key}:Network"]))
            {
                errors.Add($"{key}:Network is missing; write one of {string.Join(", ", Enum.GetNames<Network>())}.");
                continue;
            }
            // Not a network: the shape check names it with the allowed values; checks that depend on the network would only mislead.
            if (!HasNetwork(i)) continue;
            if (account.BaseUrl is not null && (!Uri.TryCreate(account.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
                errors.Add($"{key}:BaseUrl '{account.BaseUrl}' is not an absolute http(s) URL; write it like {SocialAccount.DefaultBaseUrl(account.Network)}.");
            if (account.Network == Network.Mastodon && !Visibilities.Contains(account.Visibility))
                errors.Add($"{key}:Visibility '{account.Visibility}' is not one of {string.Join(", ", Visibilities)}.");
            if (account.Image == PostImage.Card && account.Network != Network.Bluesky)
                errors.Add($"{key}:Image is Card, which only Bluesky has (a link card's thumbnail); on {account.Network} write Attached or None.");

            foreach (var credential in SocialAccount.RequiredCredentials(account.Network))
            {
                var credentialKey = $"{key}:Credentials:{credential}";
                if (!account.Credentials.TryGetValue(credential, out var reference) || string.IsNullOrWhiteSpace(reference))
                {
                    errors.Add($"{credentialKey} is missing; {account.Network} needs {string.Join(", ", SocialAccount.RequiredCredentials(account.Network))}, each as env:VARIABLE or file:/path.");
                    continue;
                }
                if (!Secrets.IsReference(reference))
                {
                    errors.Add($"{credentialKey} holds the secret itself; write env:VARIABLE or file:/path instead, and keep the value out of committed files.");
                    continue;
                }
                if (account.Enabled && Secrets.TryResolve(reference, contentRoot, out var problem) is null)
                    errors.Add($"{credentialKey} ({reference}) cannot be read: {problem}. Set it, or disable the account with Enabled=false.");
            }
        }

        if (options.Accounts.Any(a => a.Enabled))
        {
            var folder = Path.GetFullPath(options.TemplatesPath, contentRoot);
            var networks = options.Accounts.Where((a, i) => a.Enabled && HasNetwork(i)).Select(a => a.Network).Distinct();
            foreach (var network in networks)
            {
                try
                {
                    LiquidTemplates.Load(Path.Combine(folder, PostComposer.TemplateFile(network)), "Announcements:TemplatesPath");
                }
                catch (InvalidOperationException e)
                {
                    errors.Add($"Announcements:TemplatesPath: {e.Message}");
                }
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Whether account <paramref name="index"/> names a real network (an unknown or missing one binds as X).</summary>
    private bool HasNetwork(int index) =>
        configuration[$"{AnnouncementOptions.Section}:Accounts:{index}:Network"] is { } network
        && Enum.GetNames<Network>().Contains(network.Trim(), StringComparer.OrdinalIgnoreCase);
}
