// vCPUs and memory (GiB) of common EC2 instance types and RDS DB instance classes: what a pod's share of its
// node is computed from, and the sizes our own CloudWatch method chooses between when Compute Optimizer is
// not enabled. From AWS's instance type pages (EC2 "Instance type specifications", RDS "DB instance class
// hardware specifications"); an RDS class `db.<type>` has the shape of EC2 `<type>`.

export interface InstanceShape {
  vcpus: number;
  memoryGiB: number;
}

/** Sizes of the general-purpose/compute/memory families, with vCPUs and GiB of memory per vCPU. */
const SIZES: Array<[size: string, vcpus: number]> = [
  ['large', 2],
  ['xlarge', 4],
  ['2xlarge', 8],
  ['4xlarge', 16],
  ['8xlarge', 32],
  ['12xlarge', 48],
  ['16xlarge', 64],
  ['24xlarge', 96],
];

/** GiB of memory per vCPU: m = 4, c = 2, r = 8. */
const FAMILIES: Record<string, number> = {
  m5: 4,
  m6i: 4,
  m6g: 4,
  m7i: 4,
  m7g: 4,
  c5: 2,
  c6i: 2,
  c6g: 2,
  c7g: 2,
  r5: 8,
  r6i: 8,
  r6g: 8,
  r7g: 8,
};

/** Burstable types: 2 vCPUs up to large, then 4 and 8. */
const BURSTABLE: Array<[size: string, vcpus: number, memoryGiB: number]> = [
  ['nano', 2, 0.5],
  ['micro', 2, 1],
  ['small', 2, 2],
  ['medium', 2, 4],
  ['large', 2, 8],
  ['xlarge', 4, 16],
  ['2xlarge', 8, 32],
];

const EC2_SHAPES: Record<string, InstanceShape> = Object.fromEntries([
  ...Object.entries(FAMILIES).flatMap(([family, perVcpu]) =>
    SIZES.map(([size, vcpus]) => [`${family}.${size}`, { vcpus, memoryGiB: vcpus * perVcpu }]),
  ),
  ...['t3', 't3a', 't4g'].flatMap((family) =>
    BURSTABLE.map(([size, vcpus, memoryGiB]) => [`${family}.${size}`, { vcpus, memoryGiB }]),
  ),
]);

/** The shape of an EC2 type (`m5.large`) or RDS class (`db.m5.large`); undefined if not in the table. */
export function instanceShape(type: string): InstanceShape | undefined {
  return EC2_SHAPES[type.startsWith('db.') ? type.slice(3) : type];
}

/** `m5.large` → `m5`; `db.r6g.xlarge` → `db.r6g`. */
export function instanceFamily(type: string): string {
  return type.slice(0, type.lastIndexOf('.'));
}

/** The types of a family in the table, smallest first (by vCPUs, then memory). */
export function familyTypes(family: string): Array<{ type: string } & InstanceShape> {
  const prefix = family.startsWith('db.') ? 'db.' : '';
  const bare = family.slice(prefix.length);
  return Object.entries(EC2_SHAPES)
    .filter(([type]) => instanceFamily(type) === bare)
    .map(([type, shape]) => ({ type: `${prefix}${type}`, ...shape }))
    .sort((a, b) => a.vcpus - b.vcpus || a.memoryGiB - b.memoryGiB);
}
