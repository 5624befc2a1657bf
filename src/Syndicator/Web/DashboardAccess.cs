using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Syndicator.Announcements;
using Syndicator.Shared;

namespace Syndicator.Web;

/// <summary>
/// Guards every request under <c>/status</c>: credentials when <see cref="DashboardOptions"/> has any, loopback
/// callers only when it has none, and a CSRF check on the forms that change something.
/// </summary>
/// <remarks>
/// Accepted credentials: <c>Authorization: Bearer {ApiKey}</c>, <c>X-Api-Key: {ApiKey}</c>, or Basic with
/// <c>Username</c>/<c>Password</c> or with any user name and the API key as password (so a browser, which can only
/// ask for Basic credentials, can use the key). Secrets are read at the first request and kept, as everywhere else.
/// </remarks>
public sealed class DashboardAccess(IOptions<DashboardOptions> options, IWebHostEnvironment environment)
{
    public const string Realm = "Syndicator status";
    public const string CsrfField = "csrf";

    private Credentials? credentials;

    /// <summary>
    /// Put in a hidden field of every form; a POST without it is refused. A cross-site page cannot read it, and it
    /// changes with every start, so a form from before a restart is refused too (and says to reload).
    /// </summary>
    public string CsrfToken { get; } = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private sealed record Credentials(byte[]? ApiKey, string? Username, byte[]? Password);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (!options.Value.Enabled)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (await AdmitAsync(context)) await next(context);
    }

    /// <summary>
    /// Whether the caller may see an operators' page: with the credentials when there are any, from this machine when
    /// there are none. When not, the refusal (401 or 403) is already written. Also used by <see cref="OperatorPaths"/>
    /// for /metrics, /ready and /articles when they share a listener with the readers' paths.
    /// </summary>
    public async Task<bool> AdmitAsync(HttpContext context)
    {
        var o = options.Value;
        if (o.RequiresCredentials)
        {
            if (IsAuthorized(context.Request, Resolve(o))) return true;
            await ChallengeAsync(context.Response);
            return false;
        }
        if (context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote))
        {
            // Start-up validation keeps an unprotected dashboard on loopback; this holds even if a listener slips past it.
            await RefuseAsync(context.Response, StatusCodes.Status403Forbidden,
                "Operators' pages (the status dashboard, /metrics, /ready) have no credentials here, so they answer only on this machine. " +
                "Set Dashboard:ApiKey (or Dashboard:Username and Dashboard:Password) to open them to others, or give them a listener of their own with Http:OperatorUrls.\n");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Whether a POST comes from the dashboard's own page: the CSRF token must match, and a browser's Sec-Fetch-Site
    /// and Origin headers, when sent, must name this site. Null when it does; otherwise the reason, for the 403 page.
    /// </summary>
    public string? CheckForm(HttpRequest request, IFormCollection form)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && site is not ("same-origin" or "none"))
            return $"The request came from another site (Sec-Fetch-Site: {site}); use the button on the status page itself.";
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && origin != "null" && !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase))
            return $"The request came from {origin}, not from this site; use the button on the status page itself.";
        if (!BasicCredentials.FixedTimeEquals(form[CsrfField].ToString(), CsrfToken))
            return "The form is older than the running service (it restarted since the page was loaded) or did not come from the status page. Reload the page and press the button again.";
        return null;
    }

    private Credentials Resolve(DashboardOptions o) => credentials ??= new Credentials(
        string.IsNullOrWhiteSpace(o.ApiKey) ? null : Encoding.UTF8.GetBytes(Secrets.Resolve(o.ApiKey, environment.ContentRootPath, "Dashboard:ApiKey")),
        string.IsNullOrWhiteSpace(o.Username) ? null : o.Username,
        string.IsNullOrWhiteSpace(o.Password) ? null : Encoding.UTF8.GetBytes(Secrets.Resolve(o.Password, environment.ContentRootPath, "Dashboard:Password")));

    private static bool IsAuthorized(HttpRequest request, Credentials expected)
    {
        var apiKeyHeader = request.Headers["X-Api-Key"].ToString();
        if (apiKeyHeader.Length > 0) return Matches(expected.ApiKey, apiKeyHeader);

        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Matches(expected.ApiKey, authorization[7..].Trim());
        if (BasicCredentials.Parse(authorization) is not { } offered) return false;
        var (user, password) = offered;
        // Both comparisons always run, so the time taken does not tell which of the two a guess came close to.
        var asUser = expected.Username is not null & BasicCredentials.FixedTimeEquals(user, expected.Username ?? "") & Matches(expected.Password, password);
        var asKey = Matches(expected.ApiKey, password);
        return asUser | asKey;
    }

    private static bool Matches(byte[]? expected, string offered) =>
        expected is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(expected), SHA256.HashData(Encoding.UTF8.GetBytes(offered)));

    private static Task ChallengeAsync(HttpResponse response)
    {
        response.Headers.Append(HeaderNames.WWWAuthenticate, $"Basic realm=\"{Realm}\", charset=\"UTF-8\"");
        response.Headers.Append(HeaderNames.WWWAuthenticate, $"Bearer realm=\"{Realm}\"");
        return RefuseAsync(response, StatusCodes.Status401Unauthorized,
            "The status dashboard needs credentials: send Dashboard:ApiKey as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>', " +
            "or sign in with Dashboard:Username and Dashboard:Password (in a browser, any user name with the API key as password works too).\n");
    }

    private static Task RefuseAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        return response.WriteAsync(message);
    }
}
