// Every /api/v1 route is in lib/api/router.ts (one table, one wrapper); this file only hands requests over.
import { handleApi } from '@/lib/api/router.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handleApi;
export const POST = handleApi;
export const PUT = handleApi;
export const PATCH = handleApi;
export const DELETE = handleApi;
