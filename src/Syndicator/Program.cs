// --urls never reaches the configuration (Http:Urls is the one listen setting), so it is refused here, by name, before any verb runs.
if (Syndicator.Hosting.HttpOptionsValidator.Arguments(args) is { Count: > 0 } problems)
{
    Syndicator.Hosting.ConfigProblems.Print(problems);
    return 2;
}
return await Syndicator.Cli.SyndicatorCli.RunAsync(args);
