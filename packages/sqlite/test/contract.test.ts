/** The shared store contract (contract.ts) against SQLite: one scratch file per test, each `connect` a new client. */
import { Effect } from "effect"
import { storeContract } from "./contract.js"
import { open, scratch } from "./helpers.js"

storeContract({
  name: "SQLite",
  fresh: Effect.map(scratch, (paths) => ({
    connect: (prefix?: string) => open(paths, prefix).pipe(Effect.map((context) => context))
  }))
})

