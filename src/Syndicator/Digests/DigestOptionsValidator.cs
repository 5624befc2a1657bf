using System.ComponentModel.DataAnnotations;
using Fluid;
using Microsoft.Extensions.Options;
using Syndicator.Shared;

namespace Syndicator.Digests;

/// <summary>Checks what annotations cannot: secrets resolve, the templates parse, a DKIM key exists.</summary>
/// <param name="clustered">Storage:Clustered: every node must then sign with the same key, so none may make its own.</param>
internal sealed class DigestOptionsValidator(string contentRoot, bool clustered) : IValidateOptions<DigestOptions>
{
    public ValidateOptionsResult Validate(string? name, DigestOptions options)
    {
        var errors = new List<string>();
        // ValidateDataAnnotations checks the section's own properties only; the nested ones' ranges are checked here.
        foreach (var nested in new object[] { options.Smtp, options.Feedback, options.Feedback.Imap, options.Feedback.Webhooks })
        {
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(nested, new ValidationContext(nested), results, validateAllProperties: true);
            errors.AddRange(results.Select(r => r.ErrorMessage ?? $"Digests: {string.Join(", ", r.MemberNames)} is not valid."));
        }
        var smtp = options.Smtp;
        if (!string.IsNullOrWhiteSpace(smtp.Host) && !string.IsNullOrEmpty(smtp.UserName))
        {
            if (string.IsNullOrWhiteSpace(smtp.Password))
                errors.Add("Digests:Smtp:Password is missing while Digests:Smtp:UserName is set; set it to env:VARIABLE or file:/path.");
            else if (!Secrets.IsReference(smtp.Password))
                errors.Add("Digests:Smtp:Password holds the secret itself; write env:VARIABLE or file:/path instead, and keep the value out of committed files.");
            else if (Secrets.TryResolve(smtp.Password, contentRoot, out var problem) is null)
                errors.Add($"Digests:Smtp:Password ({smtp.Password}) cannot be read: {problem}.");
        }
        var imap = options.Feedback.Imap;
        if (!string.IsNullOrWhiteSpace(imap.Host))
        {
            if (string.IsNullOrWhiteSpace(imap.UserName))
                errors.Add("Digests:Feedback:Imap:UserName is empty while Digests:Feedback:Imap:Host is set; set the mailbox's login.");
            if (string.IsNullOrWhiteSpace(imap.Password))
                errors.Add("Digests:Feedback:Imap:Password is missing; set it to env:VARIABLE or file:/path.");
            else if (!Secrets.IsReference(imap.Password))
                errors.Add("Digests:Feedback:Imap:Password holds the secret itself; write env:VARIABLE or file:/path instead, and keep the value out of committed files.");
            else if (Secrets.TryResolve(imap.Password, contentRoot, out var problem) is null)
                errors.Add($"Digests:Feedback:Imap:Password ({imap.Password}) cannot be read: {problem}.");
            if (string.IsNullOrWhiteSpace(imap.Folder) || string.IsNullOrWhiteSpace(imap.HandledFolder))
                errors.Add("Digests:Feedback:Imap:Folder and HandledFolder must name folders (e.g. INBOX and Syndicator-Handled).");
            else if (string.Equals(imap.Folder.Trim(), imap.HandledFolder.Trim(), StringComparison.OrdinalIgnoreCase))
                errors.Add($"Digests:Feedback:Imap:HandledFolder is the same folder as Folder ({imap.Folder}); handled messages must go elsewhere, e.g. Syndicator-Handled.");
        }
        var hooks = options.Feedback.Webhooks;
        CheckSecret(errors, "Digests:Feedback:Webhooks:Mailgun:SigningKey", hooks.Mailgun.SigningKey, required: false);
        if (!string.IsNullOrWhiteSpace(hooks.Postmark.UserName))
            CheckSecret(errors, "Digests:Feedback:Webhooks:Postmark:Password", hooks.Postmark.Password, required: true);
        if (options.Feedback.ReturnPath is { Length: > 0 } returnPath && returnPath[..Math.Max(0, returnPath.IndexOf('@'))].Contains('+'))
            errors.Add($"Digests:Feedback:ReturnPath ({returnPath}) already has a '+'; give the plain address (e.g. bounces@magazine.example): Syndicator adds +{{delivery key}} itself.");
        if (options.SigningKey.StartsWith("file:", StringComparison.Ordinal))
        {
            if (clustered && !File.Exists(Path.GetFullPath(options.SigningKey[5..], contentRoot)))
                errors.Add($"Digests:SigningKey ({options.SigningKey}) does not exist, and in a cluster every node must sign links with the same key " +
                    "(a link made on one node is checked on another): create it once, e.g. `head -c 32 /dev/urandom | base64 > signing.key`, and give that file (or env:VARIABLE) to every node.");
        }
        else
        {
            if (!Secrets.IsReference(options.SigningKey))
                errors.Add("Digests:SigningKey holds the key itself; write env:VARIABLE or file:/path instead.");
            else if (Secrets.TryResolve(options.SigningKey, contentRoot, out var problem) is null)
                errors.Add($"Digests:SigningKey ({options.SigningKey}) cannot be read: {problem}.");
        }
        var folder = Path.GetFullPath(options.TemplatesPath, contentRoot);
        foreach (var file in new[] { "digest.html.liquid", "digest.txt.liquid", "confirm.txt.liquid" })
        {
            try
            {
                LiquidTemplates.Load(Path.Combine(folder, file), "Digests:TemplatesPath");
            }
            catch (InvalidOperationException e)
            {
                errors.Add($"Digests:TemplatesPath: {e.Message}");
            }
        }
        if (!new FluidParser().TryParse(options.Subject, out _, out var subjectError))
            errors.Add($"Digests:Subject is not valid Liquid: {subjectError}");
        if (options.Dkim.Enabled)
        {
            var keyFile = options.Dkim.PrivateKeyFile ?? "";
            keyFile = keyFile.StartsWith("file:", StringComparison.Ordinal) ? keyFile[5..] : keyFile;
            if (string.IsNullOrWhiteSpace(keyFile) || !File.Exists(Path.GetFullPath(keyFile, contentRoot)))
                errors.Add($"Digests:Dkim:PrivateKeyFile '{options.Dkim.PrivateKeyFile}' does not exist; point it at the PEM private key for {options.Dkim.Domain}, or remove Digests:Dkim:Domain.");
            if (string.IsNullOrWhiteSpace(options.Dkim.Selector))
                errors.Add("Digests:Dkim:Selector is empty; set the DNS selector of the DKIM key (the part before ._domainkey).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void CheckSecret(List<string> errors, string key, string? reference, bool required)
    {
        if (string.IsNullOrWhiteSpace(reference))
        {
            if (required) errors.Add($"{key} is missing; set it to env:VARIABLE or file:/path.");
            return;
        }
        if (!Secrets.IsReference(reference))
            errors.Add($"{key} holds the secret itself; write env:VARIABLE or file:/path instead, and keep the value out of committed files.");
        else if (Secrets.TryResolve(reference, contentRoot, out var problem) is null)
            errors.Add($"{key} ({reference}) cannot be read: {problem}.");
    }
}
