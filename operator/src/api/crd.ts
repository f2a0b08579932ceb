import { stringify } from 'yaml';
import { type ZodType, z } from 'zod';
import { agentTaskSpecSchema, agentTaskStatusSchema, TASK_NAME_MAX_CHARS } from './agenttask.ts';
import { approvalSpecSchema, approvalStatusSchema } from './approval.ts';
import { channelPairingSpecSchema, channelPairingStatusSchema } from './channel-pairing.ts';
import type { CelRule } from './common.ts';
import { AGENT_TASK, APPROVAL, CHANNEL_PAIRING, GROUP, VERSION } from './meta.ts';
import { type JsonSchema, structuralProblems } from './structural.ts';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface ResourceDefinition {
  names: typeof AGENT_TASK | typeof APPROVAL | typeof CHANNEL_PAIRING;
  scope?: 'Namespaced' | 'Cluster';
  spec: ZodType;
  status: ZodType;
  printerColumns: PrinterColumn[];
  rules: CelRule[];
  /** CRDs may bound metadata.name (and nothing else in metadata). */
  maxNameLength?: number;
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const agentTaskDefinition: ResourceDefinition = {
  names: AGENT_TASK,
  spec: agentTaskSpecSchema,
  status: agentTaskStatusSchema,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Risk', type: 'string', jsonPath: '.status.risk.level' },
    { name: 'Runtime', type: 'string', jsonPath: '.spec.runtimeClassName' },
    { name: 'Approval', type: 'string', jsonPath: '.status.approvalRef.name' },
    age,
  ],
  rules: [],
  maxNameLength: TASK_NAME_MAX_CHARS,
};

export const approvalDefinition: ResourceDefinition = {
  names: APPROVAL,
  spec: approvalSpecSchema,
  status: approvalStatusSchema,
  printerColumns: [
    { name: 'Task', type: 'string', jsonPath: '.spec.taskRef.name' },
    { name: 'State', type: 'string', jsonPath: '.status.state' },
    { name: 'Risk', type: 'string', jsonPath: '.spec.risk.level' },
    { name: 'Decided-By', type: 'string', jsonPath: '.status.decidedBy' },
    { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt' },
    age,
  ],
  rules: [],
};

export const channelPairingDefinition: ResourceDefinition = {
  names: CHANNEL_PAIRING,
  scope: 'Cluster',
  spec: channelPairingSpecSchema,
  status: channelPairingStatusSchema,
  printerColumns: [
    { name: 'User', type: 'string', jsonPath: '.spec.user' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Account', type: 'string', jsonPath: '.status.account' },
    age,
  ],
  rules: [],
};

export const RESOURCE_DEFINITIONS = [agentTaskDefinition, approvalDefinition, channelPairingDefinition];

function openApi(schema: ZodType, where: string): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
    cycles: 'throw',
  }) as JsonSchema;
  const problems = structuralProblems(json, where);
  if (problems.length > 0) throw new Error(`schema is not structural:\n  ${problems.join('\n  ')}`);
  return json;
}

export function buildCrd(def: ResourceDefinition) {
  const { kind, plural, singular, shortNames, categories } = def.names;
  const rootSchema: JsonSchema = {
    type: 'object',
    description: `${kind} (${GROUP}/${VERSION}).`,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: def.maxNameLength
        ? { type: 'object', properties: { name: { type: 'string', maxLength: def.maxNameLength } } }
        : { type: 'object' },
      spec: openApi(def.spec, 'spec'),
      status: openApi(def.status, 'status'),
    },
    ...(def.rules.length > 0 ? { 'x-kubernetes-validations': def.rules } : {}),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular,
        shortNames: [...shortNames],
        categories: [...categories],
      },
      scope: def.scope ?? 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: rootSchema },
        },
      ],
    },
  };
}

export const crdFileName = (def: ResourceDefinition) => `${def.names.plural}.${GROUP}.yaml`;

export function renderCrdYaml(def: ResourceDefinition): string {
  const header = '# Generated from operator/src/api by `npm run crds`. Do not edit by hand.\n';
  return header + stringify(buildCrd(def), { lineWidth: 0, aliasDuplicateObjects: false });
}
