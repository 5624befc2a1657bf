using Microsoft.AspNetCore.Builder;

namespace Syndicator.Web;

/// <summary>
/// The headers every response carries, the public pages (sign-up, confirm, unsubscribe, feeds) and the dashboard
/// alike: no page may be framed (the sign-up and Retry buttons must not be clickjacked), none runs script or loads
/// anything from elsewhere, forms post only here, browsers do not guess content types, and links followed from a page
/// do not tell the next site where the reader came from (a dashboard or confirmation URL carries tokens).
/// </summary>
public static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static void Use(WebApplication app) => app.Use((context, next) =>
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        return next(context);
    });
}
