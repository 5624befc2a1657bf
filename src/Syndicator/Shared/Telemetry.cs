using System.Diagnostics;

namespace Syndicator.Shared;

/// <summary>
/// The one <see cref="ActivitySource"/> Syndicator's own spans start on, and the names of their tags. Spans cost
/// nothing until something listens: the OTLP exporter when <c>Telemetry:OtlpEndpoint</c> is set, or a test's listener.
/// </summary>
public static class Telemetry
{
    public const string SourceName = "Syndicator";

    public static readonly ActivitySource Source = new(SourceName);

    public const string Channel = "syndicator.channel";
    public const string DeliveryId = "syndicator.delivery.id";
    public const string SubjectKind = "syndicator.delivery.subject_kind";
    public const string Attempt = "syndicator.delivery.attempt";
    public const string State = "syndicator.delivery.state";
    public const string Claimed = "syndicator.batch.claimed";
    public const string File = "syndicator.import.file";
    public const string Articles = "syndicator.import.articles";
}

/// <summary>The <c>Telemetry</c> section: where traces and metrics go over OTLP. Nothing is exported while the endpoint is empty.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>The collector's OTLP address, e.g. <c>http://otel-collector:4317</c> (gRPC) or <c>http://otel-collector:4318</c> with <see cref="OtlpProtocol"/> HttpProtobuf.</summary>
    public string? OtlpEndpoint { get; set; }

    public OtlpWireProtocol OtlpProtocol { get; set; } = OtlpWireProtocol.Grpc;
}

public enum OtlpWireProtocol
{
    Grpc,
    HttpProtobuf,
}
