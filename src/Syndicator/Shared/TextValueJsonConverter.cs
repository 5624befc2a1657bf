using System.Text.Json;
using System.Text.Json.Serialization;

namespace Syndicator.Shared;

/// <summary>A slug in JSON (the CLI's <c>--json</c>, a JSON Feed) is the string it stands for, read back through its checks.</summary>
public sealed class SlugJsonConverter : JsonConverter<Slug>
{
    public override Slug Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Slug.Parse(reader.GetString() ?? "");
    public override void Write(Utf8JsonWriter writer, Slug value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
}

/// <summary>A web URL in JSON is the string it stands for, read back through its checks.</summary>
public sealed class WebUrlJsonConverter : JsonConverter<WebUrl>
{
    public override WebUrl Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => WebUrl.Parse(reader.GetString() ?? "");
    public override void Write(Utf8JsonWriter writer, WebUrl value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
