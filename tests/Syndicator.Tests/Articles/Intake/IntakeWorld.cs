using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Syndicator.Articles.Intake;
using Syndicator.Storage;
using Syndicator.Tests.Support;

namespace Syndicator.Tests.Articles.Intake;

/// <summary>The real app listening on loopback (scheduler jobs off, so each test drives what runs), with an HTTP client and API keys.</summary>
public sealed class IntakeWorld : IAsyncDisposable
{
    private IntakeWorld(TestApp app, HttpClient http)
    {
        App = app;
        Http = http;
    }

    public TestApp App { get; }
    public HttpClient Http { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<IntakeWorld> StartAsync(StorageProvider provider = StorageProvider.Sqlite, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["Http:Urls"] = "http://127.0.0.1:0" };
        foreach (var job in new[] { "DropFolderImport", "IntakePull", "FeedBuild", "WebSubPing", "Announcements", "DailyDigest", "WeeklyDigest", "EmailSend" })
            settings[$"Jobs:{job}:Enabled"] = "false";
        foreach (var (key, value) in extra ?? []) settings[key] = value;
        var app = await TestApp.CreateAsync(provider, settings);
        await app.App.StartAsync(Ct);
        var address = app.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new IntakeWorld(app, new HttpClient { BaseAddress = new Uri(address) });
    }

    /// <summary>A key made the way <c>syndicator apikeys create</c> makes it.</summary>
    public async Task<string> KeyAsync(string name, ApiScope scope = ApiScope.Write) =>
        (await App.Get<ApiKeys>().CreateAsync(name, scope, Ct))!.Value.Secret;

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, string? body = null, string contentType = "application/json",
        string? idempotencyKey = null, byte[]? bytes = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (body is not null || bytes is not null)
        {
            request.Content = new ByteArrayContent(bytes ?? Encoding.UTF8.GetBytes(body!));
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return await Http.SendAsync(request, Ct);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    /// <summary>An RFC 9457 problem: its content type, status, and the field it names.</summary>
    public static async Task<(string Field, string Detail)> ProblemAsync(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        var field = problem.GetProperty("field").GetString()!;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"the problem's errors do not name {field}: {text}");
        return (field, problem.GetProperty("detail").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }
}
