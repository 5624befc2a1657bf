using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Quartz.Diagnostics;
using Syndicator.Shared;

namespace Syndicator.Hosting;

/// <summary>
/// OpenTelemetry over OTLP, only when <c>Telemetry:OtlpEndpoint</c> is set: traces from Syndicator's own source,
/// Quartz's job spans, MailKit's SMTP client, HttpClient and ASP.NET Core, and metrics from the same libraries.
/// Prometheus <c>/metrics</c> (prometheus-net) is served either way; with no endpoint nothing of OpenTelemetry is
/// registered and the spans are never created.
/// </summary>
internal static class TelemetrySetup
{
    public static void Add(IServiceCollection services, TelemetryOptions options)
    {
        if (!TelemetryOptionsValidator.TryEndpoint(options.OtlpEndpoint, out var endpoint, out _) || endpoint is null) return;
        var protocol = options.OtlpProtocol == OtlpWireProtocol.HttpProtobuf ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        // MailKit publishes its SMTP client's instruments only once told to.
        MailKit.Telemetry.SmtpClient.Configure();
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("syndicator", serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .WithTracing(t => t
                .AddSource(Telemetry.SourceName, QuartzInstrumentation.ActivitySourceName, MailKit.Telemetry.SmtpClient.ActivitySourceName)
                .AddHttpClientInstrumentation()
                .AddAspNetCoreInstrumentation())
            .WithMetrics(m => m
                .AddMeter(QuartzInstrumentation.MeterName, MailKit.Telemetry.SmtpClient.MeterName)
                .AddHttpClientInstrumentation()
                .AddAspNetCoreInstrumentation())
            .UseOtlpExporter(protocol, endpoint);
    }
}

/// <summary>The OTLP endpoint must be an absolute http(s) address: an exporter pointed at nothing would drop every span without a word.</summary>
internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options) =>
        TryEndpoint(options.OtlpEndpoint, out _, out var problem) ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problem!);

    /// <summary>True with a null endpoint when none is set (nothing is exported).</summary>
    internal static bool TryEndpoint(string? text, out Uri? endpoint, out string? problem)
    {
        endpoint = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0 && uri.UserInfo.Length == 0)
        {
            endpoint = uri;
            return true;
        }
        problem = $"{TelemetryOptions.Section}:OtlpEndpoint {ConfigShape.Show(text)} is not an absolute http(s) address without a user name; " +
                  "write the collector's address like http://otel-collector:4317 (gRPC) or http://otel-collector:4318 with Telemetry:OtlpProtocol HttpProtobuf, or remove the key to export nothing.";
        return false;
    }
}
