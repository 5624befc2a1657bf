namespace Syndicator.Announcements;

/// <summary>
/// The length of a domain label in the form the punycode npm package (1.4.1, which twitter-text uses) gives it:
/// ASCII labels as they are, others as "xn--" and the RFC 3492 encoding of their code points, without IDNA mapping
/// (no lower-casing, no prohibited characters), which .NET's IdnMapping would apply and refuse on.
/// </summary>
internal static class Punycode
{
    public static int ToAsciiLength(string label)
    {
        // punycode's mapDomain: what follows an '@' is the domain, and the ideographic full stops separate labels too.
        var at = label.LastIndexOf('@');
        var prefix = at >= 0 ? at + 1 : 0;
        var parts = label[prefix..].Split(['.', '\u3002', '\uFF0E', '\uFF61']);
        return prefix + parts.Sum(p => p.Any(c => c > 0x7F) ? 4 + EncodedLength(p) : p.Length) + parts.Length - 1;
    }

    private static int EncodedLength(string text)
    {
        const int Base = 36, TMin = 1, TMax = 26, Skew = 38, Damp = 700, InitialBias = 72, InitialN = 128;
        var input = text.EnumerateRunes().Select(r => r.Value).ToList();
        var basic = input.Count(c => c < 0x80);
        var length = basic + (basic > 0 ? 1 : 0);
        int n = InitialN, delta = 0, bias = InitialBias, handled = basic;
        while (handled < input.Count)
        {
            var m = input.Where(c => c >= n).Min();
            delta += (m - n) * (handled + 1);
            n = m;
            foreach (var c in input)
            {
                if (c < n) delta++;
                if (c != n) continue;
                var q = delta;
                for (var k = Base; ; k += Base)
                {
                    var t = k <= bias ? TMin : k >= bias + TMax ? TMax : k - bias;
                    if (q < t) break;
                    length++;
                    q = (q - t) / (Base - t);
                }
                length++;
                bias = Adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled++;
            }
            delta++;
            n++;
        }
        return length;

        static int Adapt(int delta, int points, bool first)
        {
            delta = first ? delta / Damp : delta / 2;
            delta += delta / points;
            var k = 0;
            for (; delta > (Base - TMin) * TMax / 2; k += Base) delta /= Base - TMin;
            return k + (Base - TMin + 1) * delta / (delta + Skew);
        }
    }
}
