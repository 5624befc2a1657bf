return await Syndicator.Cli.SyndicatorCli.RunAsync(args);
