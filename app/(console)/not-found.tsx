import { ProblemPage } from '@/components/no-access';

export const metadata = { title: 'Not found' };

/** Any console address that does not exist, and any object a page could not find, inside the console shell. */
export default function NotFound() {
  return (
    <ProblemPage code="404 · not found" title="There is no such page">
      <p data-testid="not-found">The address may be mistyped, or the thing it pointed at was deleted. The pages are in the navigation above.</p>
    </ProblemPage>
  );
}
