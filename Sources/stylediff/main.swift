import StyleDiffCommands

StyleDiff.main()
