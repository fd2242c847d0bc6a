import { VirtualServiceForm } from '@/components/virtual-service-form';

export const metadata = { title: 'Edit virtual service' };

export default async function EditVirtualServicePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <VirtualServiceForm id={id} />;
}
