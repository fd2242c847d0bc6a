'use client';
/** The virtual service form lives in components/service-form/ (one file per group); this name stays for the pages. */
export { ServiceForm as VirtualServiceForm } from './service-form/service-form';
