import { notFound } from 'next/navigation';

// Every address no other route claims: the 404 page inside the console shell (app/(console)/not-found.tsx), rather
// than Next's bare page outside it.
export default function Missing() {
  notFound();
}
