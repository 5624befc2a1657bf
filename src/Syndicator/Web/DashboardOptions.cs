using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Syndicator.Announcements;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// The <c>Dashboard</c> section: who may open <c>/status</c>. Without credentials the dashboard is open, which is only
/// allowed while the server listens on loopback; as soon as <c>Http:Urls</c> reaches other machines, an API key or a
/// user name and password is required.
/// </summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>False removes <c>/status</c> altogether (404), e.g. on a public node that has no use for it.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A secret reference (<c>env:NAME</c> or <c>file:/path</c>). Scripts send it as <c>Authorization: Bearer …</c> or
    /// <c>X-Api-Key</c>; a browser asks for a user name and password, and takes any user name with the key as password.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Basic authentication: the user name, with <see cref="Password"/>.</summary>
    public string? Username { get; set; }

    /// <summary>Basic authentication: a secret reference (<c>env:NAME</c> or <c>file:/path</c>) to the password.</summary>
    public string? Password { get; set; }

    /// <summary>Whether any credential is configured, so the dashboard asks for one.</summary>
    public bool RequiresCredentials => !string.IsNullOrWhiteSpace(ApiKey) || !string.IsNullOrWhiteSpace(Username);
}

/// <summary>
/// Refuses to start when <c>/status</c> would be open to other machines, and checks that every configured credential
/// is a reference that resolves, long enough to resist guessing.
/// </summary>
internal sealed class DashboardOptionsValidator(IConfiguration configuration, string contentRoot) : IValidateOptions<DashboardOptions>
{
    /// <summary>Shorter keys and passwords are refused: the dashboard can retry deliveries, and Basic auth has no lockout.</summary>
    public const int MinSecretLength = 16;

    public ValidateOptionsResult Validate(string? name, DashboardOptions options)
    {
        if (!options.Enabled) return ValidateOptionsResult.Success;
        var errors = new List<string>();
        Check(options.ApiKey, "Dashboard:ApiKey", "env:SYNDICATOR_DASHBOARD_KEY", errors);
        var hasUser = !string.IsNullOrWhiteSpace(options.Username);
        var hasPassword = !string.IsNullOrWhiteSpace(options.Password);
        if (hasUser != hasPassword)
            errors.Add("Dashboard:Username and Dashboard:Password go together; set both (the password as env:VARIABLE or file:/path) or neither.");
        else if (hasPassword)
            Check(options.Password, "Dashboard:Password", "file:/run/secrets/dashboard_password", errors);

        if (!options.RequiresCredentials)
        {
            var http = ConfigSections.ReadOrDefault<HttpOptions>(configuration, HttpOptions.Section);
            var exposed = PublicUrls(http.OperatorListener).ToList();
            if (exposed.Count > 0)
                errors.Add($"{http.OperatorListenerKey} listens on {string.Join(", ", exposed)}, which other machines can reach, but the /status dashboard has no credentials. " +
                           "Set Dashboard:ApiKey to a secret reference such as env:SYNDICATOR_DASHBOARD_KEY (or Dashboard:Username and Dashboard:Password), " +
                           "listen on 127.0.0.1 only (Http:OperatorUrls=http://127.0.0.1:5081 keeps the operators' paths there), or turn the dashboard off with Dashboard:Enabled=false.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void Check(string? reference, string key, string example, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(reference)) return;
        if (!Secrets.IsReference(reference))
        {
            errors.Add($"{key} holds the secret itself; write a reference such as {example} instead, and keep the value out of committed files.");
            return;
        }
        var value = Secrets.TryResolve(reference, contentRoot, out var problem);
        if (value is null)
            errors.Add($"{key} ({reference}) cannot be read: {problem}. Set it, or remove {key}.");
        else if (value.Length < MinSecretLength)
            errors.Add($"{key} ({reference}) is {value.Length} characters long; use at least {MinSecretLength} random characters, e.g. from 'openssl rand -base64 32'.");
    }

    /// <summary>The listen addresses that are not loopback: wildcards (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>, <c>[::]</c>), other IPs and host names.</summary>
    internal static IEnumerable<string> PublicUrls(IEnumerable<string> urls) => urls.Where(url => !IsLoopback(url));

    internal static bool IsLoopback(string url)
    {
        // Kestrel reads "*" and "+" as every interface; Uri cannot parse them, so they are public before parsing.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return false;
        var host = uri.Host;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }
}
