using Microsoft.Playwright;

namespace Syndicator.Tests.Web;

/// <summary>
/// Debian's chromium, driven by Playwright, shared by the tests of a class. Playwright never downloads a browser here:
/// it launches /usr/bin/chromium (installed by .ci/run). Without it the browser tests are skipped with the reason,
/// except under CI=true, where a missing browser fails the run.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static readonly string[] Args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run",
    ];

    private IPlaywright? playwright;
    private IBrowser? browser;

    /// <summary>Where the test run keeps its screenshots: beside the test binaries.</summary>
    public static string ScreenshotFolder => Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath)) return;
        // Expect(...) has a timeout of its own, 5 s unless set: on a loaded CI machine a test send through the relay took
        // longer than that, and the assertion failed though the page came right.
        Assertions.SetDefaultExpectTimeout(15_000);
        // A fixture has no test Timeout over it: the driver's start is bounded here (the launch by its own Timeout).
        try
        {
            playwright = await Playwright.CreateAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("Playwright's driver (node, from the Microsoft.Playwright package beside the tests) did not start within 60 s.");
        }
        browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Args,
            Timeout = 60_000,
        });
    }

    /// <summary>A fresh context (own cookies, own credentials) and page; dispose the context at the end of the test.</summary>
    /// <param name="timezoneId">The zone the browser reports (Intl.DateTimeFormat().resolvedOptions().timeZone).</param>
    public async Task<(IBrowserContext Context, IPage Page)> NewPageAsync(HttpCredentials? credentials = null, string timezoneId = "UTC", bool javaScriptEnabled = true)
    {
        if (browser is null)
        {
            var reason = $"{ExecutablePath} is not installed; the browser tests need Debian's chromium ('apt-get install chromium', as .ci/run does).";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) Assert.Fail("CI=true but " + reason);
            Assert.Skip(reason);
        }
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            HttpCredentials = credentials,
            Locale = "en-GB",
            TimezoneId = timezoneId,
            JavaScriptEnabled = javaScriptEnabled,
        });
        context.SetDefaultTimeout(15_000);
        return (context, await context.NewPageAsync());
    }

    public async ValueTask DisposeAsync()
    {
        // Closing asks the driver; a driver that no longer answers must not hold the class (it goes with the process).
        if (browser is not null)
        {
            try { await browser.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)); }
            catch (TimeoutException) { throw new TimeoutException($"{ExecutablePath} did not close within 30 s."); }
            finally { playwright?.Dispose(); }
        }
        else playwright?.Dispose();
    }
}
