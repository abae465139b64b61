/**
 * Maps `items` with at most `limit` calls in flight, results in input order. A fixed set of workers pulling
 * the next index bounds the requests or sockets open at once without a dependency (p-limit), and a slow item
 * holds up only its own worker: enough to be quick, few enough not to trip a service's request rate.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
