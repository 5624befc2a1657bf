return await Syndicator.Benchmarks.Bench.MainAsync(args);
