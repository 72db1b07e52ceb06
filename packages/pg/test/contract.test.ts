/** The shared store contract (packages/sqlite/test/contract.ts) against PostgreSQL: one fresh database per test. */
import { storeContract } from "@switchyard/sqlite/contract"
import { Effect } from "effect"
import { fresh, skipReason } from "./helpers.js"

storeContract({
  name: "PostgreSQL",
  skip: skipReason,
  fresh: Effect.map(fresh, (db) => ({
    connect: (prefix?: string) => db.connect(prefix)
  }))
})

