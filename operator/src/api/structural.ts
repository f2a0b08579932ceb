/**
 * Checks that an OpenAPI schema is a Kubernetes *structural* schema, so the
 * generator fails loudly instead of the API server rejecting the CRD later.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 */
export type JsonSchema = { [key: string]: unknown };

const FORBIDDEN_KEYS = [
  '$ref',
  '$defs',
  'definitions',
  'patternProperties',
  'uniqueItems',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'const',
  '$schema',
  'id',
];

const isSchema = (value: unknown): value is JsonSchema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function structuralProblems(schema: JsonSchema, path = ''): string[] {
  const problems: string[] = [];
  const at = path || '<root>';
  for (const key of FORBIDDEN_KEYS) {
    if (key in schema) problems.push(`${at}: '${key}' is not allowed in a structural schema`);
  }
  const untyped = schema['x-kubernetes-preserve-unknown-fields'] || schema['x-kubernetes-int-or-string'];
  if (typeof schema.type !== 'string' && !untyped)
    problems.push(`${at}: every node needs a single string 'type'`);
  if (schema.properties && schema.additionalProperties !== undefined) {
    problems.push(`${at}: 'additionalProperties' cannot stand beside 'properties'`);
  }
  if (Array.isArray(schema.items)) problems.push(`${at}: array-form 'items' is not allowed`);
  if (schema.type === 'array' && !isSchema(schema.items))
    problems.push(`${at}: arrays need an 'items' schema`);
  if (isSchema(schema.properties)) {
    for (const [name, child] of Object.entries(schema.properties)) {
      if (isSchema(child)) problems.push(...structuralProblems(child, `${path}.${name}`));
    }
  }
  if (isSchema(schema.items)) problems.push(...structuralProblems(schema.items, `${path}[]`));
  if (isSchema(schema.additionalProperties)) {
    problems.push(...structuralProblems(schema.additionalProperties, `${path}{}`));
  }
  return problems;
}
