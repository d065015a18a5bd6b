-- ARGV: P, id, reason. Moves a record that the client could not decode to the dead letters.
return bury(ARGV[2], ARGV[3])
