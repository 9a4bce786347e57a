import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020'
import { schemaFiles } from './schemas'

/**
 * ajv for schemas/ (JSON Schema 2020-12): strict, except that union types
 * (["string","integer"]) are allowed. Every schema is registered under its $id;
 * validators compile on first use.
 */
export function createAjv (): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })
  for (const s of Object.values(schemaFiles)) ajv.addSchema(s as unknown as Record<string, unknown>)
  return ajv
}

let shared: Ajv2020 | null = null

export function validatorFor (schema: { readonly $id: string }): ValidateFunction {
  shared ??= createAjv()
  const v = shared.getSchema(schema.$id)
  if (v === undefined) throw new Error(`schema ${schema.$id} is not registered`)
  return v
}

/** null when valid, else ajv's errors. */
export function schemaErrors (schema: { readonly $id: string }, value: unknown): ErrorObject[] | null {
  const v = validatorFor(schema)
  return v(value) ? null : (v.errors ?? [])
}
